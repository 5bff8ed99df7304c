// The code-context driver for JavaScript, run by the Hutch agent as
// `node -e <this file>`: JSON lines in on fd 3, out on fd 4. Top-level
// declarations persist because every run is a script in one vm context.
const fs = require("fs"), vm = require("vm"), util = require("util"), readline = require("readline");
const out = fs.createWriteStream(null, { fd: 4 });
let buf = { stdout: "", stderr: "" };
const write = (k) => (...a) => { buf[k] += util.format(...a) + "\n"; };
const sandbox = { require, process, Buffer, setTimeout, clearTimeout, setInterval, clearInterval,
  console: { log: write("stdout"), info: write("stdout"), warn: write("stderr"), error: write("stderr") } };
const ctx = vm.createContext(sandbox);
const rl = readline.createInterface({ input: fs.createReadStream(null, { fd: 3 }) });
rl.on("line", (line) => {
  buf = { stdout: "", stderr: "" };
  const res = { outputs: [], error: null };
  try {
    const v = vm.runInContext(JSON.parse(line).code, ctx, { filename: "<cell>" });
    if (v !== undefined) res.result = { "text/plain": util.inspect(v) };
  } catch (e) {
    res.error = { name: (e && e.name) || "Error", value: String(e && e.message !== undefined ? e.message : e),
      traceback: String((e && e.stack) || e) };
  }
  res.stdout = buf.stdout; res.stderr = buf.stderr;
  out.write(JSON.stringify(res) + "\n");
});
