/**
 * `clean_output` as a streaming transform over pg_dump's plain-format bytes.
 *
 * Lines are judged against the drop rules only when they begin at a statement boundary;
 * everything else (COPY data, literals, quoted identifiers, dollar quotes, statements that
 * span lines) passes through unchanged. Kept bytes leave as views of the input chunk, not
 * copies. The output is the same however the input is split into chunks.
 */

import { SqlLexer } from "./lexer.ts";
import { DROP_RULES, isBlank } from "./rules.ts";

const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const DOT = 0x2e;

/**
 * A line longer than this is kept without reading it whole: no rule matches such a line,
 * and a line of any length must not be buffered.
 */
const MAX_JUDGED_LINE = 4096;

enum Line {
  /** At the start of a line, nothing of it seen yet. */
  Start,
  /** Inside a kept line whose bytes go through the SQL lexer. */
  Lex,
  /** Inside a kept psql meta-command line, which is not SQL. */
  Raw,
  /** Inside a dropped line. */
  Skip,
}

type Verdict = "drop" | "keep" | "keep-raw" | "undecided";

const decoder = new TextDecoder();

/** The first bytes of a line as text, for comparing against the ASCII prefixes of rules. */
const head = (buffer: Uint8Array, start: number, end: number): string =>
  String.fromCharCode(...buffer.subarray(start, Math.min(end, start + 64)));

const couldBecomeRule = (text: string): boolean =>
  isBlank(text) ||
  DROP_RULES.some((rule) => rule.prefix.startsWith(text) || text.startsWith(rule.prefix));

/**
 * Removes what Hasura's `clean_output` removes, without ever changing data.
 *
 * @example
 * const cleaned = pgDumpStdout.pipeThrough(new CleanOutputStream());
 */
export class CleanOutputStream extends TransformStream<Uint8Array, Uint8Array> {
  constructor() {
    const cleaner = new Cleaner();
    super({
      transform: (chunk, controller) => cleaner.push(chunk, (part) => controller.enqueue(part)),
      flush: (controller) => cleaner.end((part) => controller.enqueue(part)),
    });
  }
}

type Emit = (part: Uint8Array) => void;

/** The cleaner's state machine, apart from the stream plumbing so it can be driven directly. */
export class Cleaner {
  #lexer = new SqlLexer();
  #line = Line.Start;
  #inCopy = false;
  /** Progress through the COPY terminator `\n\.\n`: 1 at a line start, 2 after `\`, 3 after `.`. */
  #copyMatch = 0;
  /** The start of a boundary line that could not be judged yet, waiting for more input. */
  #carry: Uint8Array | undefined;

  push = (chunk: Uint8Array, emit: Emit): void => {
    let buffer = chunk;
    if (this.#carry !== undefined) {
      buffer = new Uint8Array(this.#carry.length + chunk.length);
      buffer.set(this.#carry);
      buffer.set(chunk, this.#carry.length);
      this.#carry = undefined;
    }

    const length = buffer.length;
    let position = 0;
    // Bytes from here up to the current position are kept and not yet emitted.
    let keptFrom = 0;
    const drop = (from: number, to: number): void => {
      if (from > keptFrom) emit(buffer.subarray(keptFrom, from));
      keptFrom = to;
    };

    while (position < length) {
      if (this.#inCopy) {
        const end = this.#scanCopy(buffer, position);
        if (end === -1) {
          position = length;
        } else {
          position = end;
          this.#inCopy = false;
          this.#line = Line.Start;
        }
        continue;
      }

      const newline = buffer.indexOf(NEWLINE, position);
      const lineEnd = newline === -1 ? length : newline + 1;

      if (this.#line === Line.Start) {
        if (!this.#lexer.atStatementBoundary) {
          this.#line = Line.Lex;
          continue;
        }
        const verdict = this.#judge(buffer, position, lineEnd, newline !== -1 ? "newline" : "open");
        if (verdict === "undecided") {
          drop(position, length);
          this.#carry = buffer.slice(position);
          return;
        }
        if (verdict === "drop") {
          this.#line = Line.Skip;
        } else {
          this.#line = verdict === "keep-raw" ? Line.Raw : Line.Lex;
        }
      }

      if (this.#line === Line.Skip) drop(position, lineEnd);
      else if (this.#line === Line.Lex) this.#lexer.feed(buffer, position, lineEnd);
      position = lineEnd;

      if (newline !== -1) {
        this.#line = Line.Start;
        if (this.#lexer.takeCopyStart()) {
          this.#inCopy = true;
          this.#copyMatch = 1;
        }
      }
    }
    drop(length, length);
  };

  /** Judges what is left when the input ends: a last line without a newline. */
  end = (emit: Emit): void => {
    const rest = this.#carry;
    this.#carry = undefined;
    if (rest === undefined) return;
    if (this.#judge(rest, 0, rest.length, "eof") !== "drop") emit(rest);
  };

  /**
   * Decides a boundary line from `buffer[start..end)`: the whole line when it ends there
   * (`newline` or `eof`), otherwise only its start, which may not be enough yet.
   */
  #judge = (
    buffer: Uint8Array,
    start: number,
    end: number,
    ending: "newline" | "open" | "eof",
  ): Verdict => {
    const contentEnd = ending === "newline" ? end - 1 : end;
    const text = head(buffer, start, contentEnd);
    const byPrefix = DROP_RULES.find((rule) => rule.prefixDecides && text.startsWith(rule.prefix));
    if (byPrefix !== undefined) return "drop";
    const mayGrowIntoPrefix = DROP_RULES.some(
      (rule) => rule.prefixDecides && rule.prefix.startsWith(text),
    );
    if (ending === "open" && mayGrowIntoPrefix) return "undecided";
    if (text.startsWith("\\")) return "keep-raw";

    if (contentEnd - start > MAX_JUDGED_LINE || !couldBecomeRule(text)) return "keep";
    if (ending === "open") return "undecided";

    const line = decoder.decode(buffer.subarray(start, contentEnd)).replace(/\r$/, "");
    if (isBlank(line)) return "drop";
    if (DROP_RULES.some((rule) => !rule.prefixDecides && rule.matches(line))) return "drop";
    this.#noteStringSetting(line);
    return "keep";
  };

  /** pg_dump says how plain '...' strings treat backslashes; the lexer must know. */
  #noteStringSetting = (line: string): void => {
    if (line === "SET standard_conforming_strings = off;") this.#lexer.backslashEscapes = true;
  };

  /**
   * Looks for the line `\.` that ends COPY data; returns the index just past it, or -1 when
   * this buffer holds no end. Data bytes are only scanned, never copied or changed.
   */
  #scanCopy = (buffer: Uint8Array, from: number): number => {
    const length = buffer.length;
    let position = from;

    // Finish a terminator that may have begun at the end of the previous chunk.
    while (position < length && this.#copyMatch !== 0) {
      if (this.#stepCopy(buffer[position] as number)) return position + 1;
      position++;
    }

    // Mid-line now: a terminator needs a newline, a backslash, a dot and a newline. Jump
    // from backslash to backslash, which are rarer in COPY data than newlines.
    let candidate = buffer.indexOf(BACKSLASH, position);
    while (candidate !== -1) {
      if (candidate > position && buffer[candidate - 1] === NEWLINE) {
        if (candidate + 2 >= length) break;
        if (buffer[candidate + 1] === DOT && buffer[candidate + 2] === NEWLINE)
          return candidate + 3;
      }
      candidate = buffer.indexOf(BACKSLASH, candidate + 1);
    }

    // Remember a terminator that may be cut off at the end of this chunk.
    this.#copyMatch = 0;
    for (let index = Math.max(position, length - 3); index < length; index++) {
      this.#stepCopy(buffer[index] as number);
    }
    return -1;
  };

  /** Advances the terminator match by one byte; true when the terminator is complete. */
  #stepCopy = (byte: number): boolean => {
    switch (this.#copyMatch) {
      case 1:
        this.#copyMatch = byte === BACKSLASH ? 2 : byte === NEWLINE ? 1 : 0;
        return false;
      case 2:
        this.#copyMatch = byte === DOT ? 3 : byte === NEWLINE ? 1 : 0;
        return false;
      case 3:
        if (byte === NEWLINE) {
          this.#copyMatch = 0;
          return true;
        }
        this.#copyMatch = 0;
        return false;
      default:
        this.#copyMatch = byte === NEWLINE ? 1 : 0;
        return false;
    }
  };
}
