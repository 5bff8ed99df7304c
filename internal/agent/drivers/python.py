# The code-context driver for Python, run by the Hutch agent as
# `python3 -c <this file>`. Requests come as JSON lines on fd 3 and answers
# go as JSON lines on fd 4, so that the user's own output on fd 1 and 2
# cannot corrupt the protocol.
import ast, base64, io, json, os, signal, sys, traceback

_req = os.fdopen(3, "r", encoding="utf-8")
_resp = os.fdopen(4, "w", encoding="utf-8")
_ns = {"__name__": "__main__", "__builtins__": __builtins__}

_MIMES = (("_repr_html_", "text/html"), ("_repr_markdown_", "text/markdown"),
          ("_repr_svg_", "image/svg+xml"), ("_repr_png_", "image/png"),
          ("_repr_jpeg_", "image/jpeg"), ("_repr_json_", "application/json"),
          ("_repr_latex_", "text/latex"))


def _bundle(value):
    out = {"text/plain": repr(value)}
    for meth, mime in _MIMES:
        f = getattr(value, meth, None)
        if not callable(f):
            continue
        try:
            r = f()
        except Exception:
            continue
        if isinstance(r, tuple):
            r = r[0]
        if r is None:
            continue
        if isinstance(r, bytes):
            r = base64.b64encode(r).decode()
        elif not isinstance(r, str):
            r = json.dumps(r)
        out[mime] = r
    return out


def _figures():
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    outs = []
    for num in plt.get_fignums():
        buf = io.BytesIO()
        plt.figure(num).savefig(buf, format="png")
        outs.append({"image/png": base64.b64encode(buf.getvalue()).decode()})
    plt.close("all")
    return outs


def _run(code):
    res = {"stdout": "", "stderr": "", "outputs": [], "error": None}
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        tree = ast.parse(code, "<cell>", "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, "<cell>", "exec"), _ns)
        if last is not None:
            value = eval(compile(last, "<cell>", "eval"), _ns)
            if value is not None:
                _ns["_"] = value
                res["result"] = _bundle(value)
    except BaseException as e:  # KeyboardInterrupt (a timeout) and SystemExit too
        tb = e.__traceback__.tb_next if e.__traceback__ else None
        res["error"] = {"name": type(e).__name__, "value": str(e),
                        "traceback": "".join(traceback.format_exception(type(e), e, tb))}
    finally:
        sys.stdout, sys.stderr = saved
    try:
        res["outputs"] = _figures()
    except Exception as e:
        err.write("hutch: could not render figures: %r\n" % (e,))
    res["stdout"], res["stderr"] = out.getvalue(), err.getvalue()
    return res


# A SIGINT between runs (a timeout that raced the end of a run) is ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
while True:
    try:
        line = _req.readline()
        if not line:
            break
        answer = _run(json.loads(line)["code"])
        _resp.write(json.dumps(answer) + "\n")
        _resp.flush()
    except KeyboardInterrupt:
        continue
