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
const CARRIAGE_RETURN = 0x0d;
const BACKSLASH = 0x5c;
const DOT = 0x2e;

/**
 * A line longer than this is kept without reading it whole: no rule matches such a line,
 * and a line of any length must not be buffered.
 * Known shortcoming: a whitespace-only line longer than this is kept too.
 */
const MAX_JUDGED_LINE = 4096;

/**
 * pg_dump says how plain '...' strings treat backslashes; with `off` a backslash escapes the
 * next character, so the lexer must know before it reads any literal.
 */
const STRING_SETTING = "SET standard_conforming_strings = ";
const STRING_SETTING_LINE = /^SET standard_conforming_strings = '?(on|off|true|false)'?;$/i;

/** The beginnings of every line that must be read whole before it is kept or dropped. */
const WATCHED_PREFIXES = [...DROP_RULES.map((rule) => rule.prefix), STRING_SETTING];

/**
 * Per first byte of a line: 1 when the line may be dropped, watched or be a psql
 * meta-command, so that it needs a closer look. Most lines of a dump start elsewhere and are
 * kept at a glance.
 */
const NEEDS_LOOK = new Uint8Array(256);
for (const prefix of WATCHED_PREFIXES) NEEDS_LOOK[prefix.charCodeAt(0)] = 1;
for (const text of [" ", "\t", "\r", "\f", "\v", "\n", "\\"]) NEEDS_LOOK[text.charCodeAt(0)] = 1;

enum Line {
  /** At the start of a line that begins at a statement boundary, nothing of it seen yet. */
  Start,
  /** Inside kept lines whose bytes go through the SQL lexer. */
  Lex,
  /** Inside a kept psql meta-command line, which is not SQL. */
  Raw,
  /** Inside a dropped line. */
  Skip,
  /** Inside COPY data, up to and including its terminator line. */
  Copy,
}

type Verdict = "drop" | "keep" | "keep-raw" | "undecided";

const decoder = new TextDecoder();

/** The first bytes of a line as text, for comparing against the ASCII prefixes of rules. */
const head = (buffer: Uint8Array, start: number, end: number): string =>
  String.fromCharCode(...buffer.subarray(start, Math.min(end, start + 64)));

const mayNeedWholeLine = (text: string): boolean =>
  isBlank(text) ||
  WATCHED_PREFIXES.some((prefix) => prefix.startsWith(text) || text.startsWith(prefix));

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
  /**
   * Progress through the line `\.` that ends COPY data (psql also takes it with a CRLF end):
   * 1 at a line start, 2 after `\`, 3 after `.`, 4 after `\r`; 0 in the middle of a line.
   */
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
      if (this.#line === Line.Copy) {
        const end = this.#scanCopy(buffer, position);
        if (end === -1) break;
        position = end;
        this.#line = Line.Start;
        continue;
      }

      if (this.#line === Line.Lex) {
        const next = this.#lexer.feed(buffer, position, length);
        if (next === -1) break;
        position = next;
        this.#line = this.#lexer.takeCopyStart() ? this.#startCopy() : Line.Start;
        continue;
      }

      if (this.#line === Line.Start && NEEDS_LOOK[buffer[position] as number] === 0) {
        this.#line = Line.Lex;
        continue;
      }

      const newline = buffer.indexOf(NEWLINE, position);
      const lineEnd = newline === -1 ? length : newline + 1;

      if (this.#line === Line.Start) {
        const verdict = this.#judge(buffer, position, lineEnd, newline !== -1 ? "newline" : "open");
        if (verdict === "undecided") {
          drop(position, length);
          this.#carry = buffer.slice(position);
          return;
        }
        if (verdict === "keep") {
          this.#line = Line.Lex;
          continue;
        }
        this.#line = verdict === "drop" ? Line.Skip : Line.Raw;
      }

      if (this.#line === Line.Skip) drop(position, lineEnd);
      position = lineEnd;
      if (newline !== -1) this.#line = Line.Start;
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
    if (contentEnd === start) return "drop";
    if (NEEDS_LOOK[buffer[start] as number] === 0) return "keep";

    const text = head(buffer, start, contentEnd);
    if (DROP_RULES.some((rule) => rule.prefixDecides && text.startsWith(rule.prefix))) {
      return "drop";
    }
    const mayGrowIntoPrefix = DROP_RULES.some(
      (rule) => rule.prefixDecides && rule.prefix.startsWith(text),
    );
    if (ending === "open" && mayGrowIntoPrefix) return "undecided";
    if (text.startsWith("\\")) return "keep-raw";

    if (contentEnd - start > MAX_JUDGED_LINE || !mayNeedWholeLine(text)) return "keep";
    if (ending === "open") return "undecided";

    const line = decoder.decode(buffer.subarray(start, contentEnd)).replace(/\r$/, "");
    this.#noteStringSetting(line);
    if (isBlank(line)) return "drop";
    if (DROP_RULES.some((rule) => !rule.prefixDecides && rule.matches(line))) return "drop";
    return "keep";
  };

  /** Remembers how the rest of the dump writes plain string literals. */
  #noteStringSetting = (line: string): void => {
    const setting = STRING_SETTING_LINE.exec(line)?.[1]?.toLowerCase();
    if (setting === undefined) return;
    this.#lexer.backslashEscapes = setting === "off" || setting === "false";
  };

  #startCopy = (): Line => {
    this.#copyMatch = 1;
    return Line.Copy;
  };

  /**
   * Looks for the line `\.` that ends COPY data; returns the index just past it, or -1 when
   * this buffer holds no end. Data bytes are only scanned, never copied or changed.
   */
  #scanCopy = (buffer: Uint8Array, from: number): number => {
    const length = buffer.length;
    let position = from;

    // Finish a terminator that may have begun at the end of the previous chunk.
    while (this.#copyMatch !== 0) {
      if (position === length) return -1;
      if (this.#stepCopy(buffer[position] as number)) return position + 1;
      position++;
    }

    // Mid-line now: a terminator needs a newline, a backslash, a dot and a newline. Jump
    // from backslash to backslash, which are rarer in COPY data than newlines.
    let candidate = buffer.indexOf(BACKSLASH, position);
    while (candidate !== -1) {
      if (candidate > position && buffer[candidate - 1] === NEWLINE) {
        if (candidate + 2 >= length) break;
        if (buffer[candidate + 1] === DOT) {
          const after = buffer[candidate + 2];
          if (after === NEWLINE) return candidate + 3;
          if (after === CARRIAGE_RETURN) {
            if (candidate + 3 >= length) break;
            if (buffer[candidate + 3] === NEWLINE) return candidate + 4;
          }
        }
      }
      candidate = buffer.indexOf(BACKSLASH, candidate + 1);
    }

    // Remember a terminator that may be cut off at the end of this chunk: its newline is at
    // most four bytes from the end, and `position` is mid-line, so stepping from there works.
    this.#copyMatch = 0;
    for (let index = Math.max(position, length - 4); index < length; index++) {
      this.#stepCopy(buffer[index] as number);
    }
    return -1;
  };

  /** Advances the terminator match by one byte; true when the terminator is complete. */
  #stepCopy = (byte: number): boolean => {
    const state = this.#copyMatch;
    this.#copyMatch = byte === NEWLINE ? 1 : 0;
    if (state === 1 && byte === BACKSLASH) this.#copyMatch = 2;
    else if (state === 2 && byte === DOT) this.#copyMatch = 3;
    else if (state === 3 && byte === CARRIAGE_RETURN) this.#copyMatch = 4;
    else if ((state === 3 || state === 4) && byte === NEWLINE) {
      this.#copyMatch = 0;
      return true;
    }
    return false;
  };
}
