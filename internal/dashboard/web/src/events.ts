// The organisation's event stream, GET /v1/events?follow=true, read with
// fetch() rather than EventSource because EventSource cannot send the
// Authorization header. It reconnects with backoff; after a reconnection
// listeners are told to re-read what they show, since events sent while
// disconnected are not replayed.

import { apiKey, call } from "./api";
import type { StreamEvent } from "./types";

export type LiveState = "connecting" | "live" | "reconnecting";

type EventListener = (e: StreamEvent) => void;
type StateListener = (s: LiveState, detail: string) => void;

export class EventStream {
  private events = new Set<EventListener>();
  private states = new Set<StateListener>();
  private resyncs = new Set<() => void>();
  private abort: AbortController | null = null;
  state: LiveState = "connecting";
  detail = "";

  onEvent(f: EventListener): () => void {
    this.events.add(f);
    return () => this.events.delete(f);
  }

  onState(f: StateListener): () => void {
    this.states.add(f);
    f(this.state, this.detail);
    return () => this.states.delete(f);
  }

  // onResync is called after a reconnection: whatever a page shows may
  // have missed events.
  onResync(f: () => void): () => void {
    this.resyncs.add(f);
    return () => this.resyncs.delete(f);
  }

  start(): void {
    if (this.abort) return;
    this.abort = new AbortController();
    void this.run(this.abort.signal);
  }

  stop(): void {
    this.abort?.abort();
    this.abort = null;
  }

  private setState(s: LiveState, detail = ""): void {
    this.state = s;
    this.detail = detail;
    this.states.forEach((f) => f(s, detail));
  }

  private async run(signal: AbortSignal): Promise<void> {
    let delay = 1000;
    let first = true;
    while (!signal.aborted && apiKey()) {
      try {
        const resp = await call("GET", "/v1/events", { query: { follow: true }, signal, headers: { Accept: "text/event-stream" } });
        this.setState("live");
        if (!first) this.resyncs.forEach((f) => f());
        first = false;
        delay = 1000;
        await this.read(resp, signal);
        this.setState("reconnecting", "the stream ended");
      } catch (e) {
        if (signal.aborted) return;
        this.setState("reconnecting", e instanceof Error ? e.message : String(e));
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  // read parses server-sent events: blocks separated by a blank line,
  // "data:" lines joined, comment lines (":") ignored.
  private async read(resp: Response, signal: AbortSignal): Promise<void> {
    if (!resp.body) return;
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    signal.addEventListener("abort", () => void reader.cancel().catch(() => {}), { once: true });
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value.replace(/\r\n?/g, "\n");
      let i: number;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n");
        if (!data) continue;
        try {
          const ev = JSON.parse(data) as StreamEvent;
          this.events.forEach((f) => f(ev));
        } catch {
          // a malformed message is skipped; the next one may be fine
        }
      }
    }
  }
}
