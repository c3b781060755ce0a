/**
 * A byte-at-a-time SQL lexer that knows only what the cleaner needs: whether a position is
 * inside a literal, an identifier or a comment, whether a statement is open, and when a
 * `COPY ... FROM stdin;` statement has ended so that COPY data follows. It keeps all of
 * its state in fields, so input may be split anywhere.
 */

enum State {
  Normal,
  SingleQuote,
  SingleQuoteEnd,
  EscapeQuote,
  EscapeQuoteBackslash,
  EscapeQuoteEnd,
  DoubleQuote,
  DoubleQuoteEnd,
  DollarOpen,
  DollarBody,
  DollarClose,
  LineComment,
  BlockComment,
  BlockStar,
  BlockSlash,
  Dash,
  Slash,
}

const NEWLINE = 0x0a;
const SINGLE = 0x27;
const DOUBLE = 0x22;
const DOLLAR = 0x24;
const BACKSLASH = 0x5c;
const DASH = 0x2d;
const SLASH = 0x2f;
const STAR = 0x2a;
const SEMICOLON = 0x3b;
const OPEN_PAREN = 0x28;
const CLOSE_PAREN = 0x29;

/** Longest dollar-quote tag tracked; PostgreSQL identifiers are at most 63 bytes. */
const MAX_TAG = 64;
/** Longest word remembered; the keywords that matter here are all shorter. */
const MAX_WORD = 8;

const isSpace = (byte: number): boolean =>
  byte === 0x20 || byte === NEWLINE || byte === 0x09 || byte === 0x0d || byte === 0x0c;

/** Letters, `_` and every non-ASCII byte can start an identifier, as in PostgreSQL's scanner. */
const isIdentStart = (byte: number): boolean =>
  (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || byte === 0x5f || byte >= 0x80;

const isIdentPart = (byte: number): boolean =>
  isIdentStart(byte) || (byte >= 0x30 && byte <= 0x39) || byte === DOLLAR;

const upper = (byte: number): number => (byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte);

/**
 * Tracks SQL structure across arbitrary splits of the input.
 *
 * @example
 * const lexer = new SqlLexer();
 * lexer.feed(bytes, 0, bytes.length);
 * if (lexer.atStatementBoundary) { ... }
 */
export class SqlLexer {
  #state = State.Normal;
  #inStatement = false;
  #parenDepth = 0;
  /** Depth of `BEGIN ATOMIC ... END` bodies (and CASE ... END inside them). */
  #atomicDepth = 0;
  #commentDepth = 0;
  #tag = "";
  #tagMatched = 0;
  #word = "";
  #inWord = false;
  #tokens = 0;
  #firstToken = "";
  #previousToken = "";
  #lastToken = "";
  #copyFollows = false;

  /** Plain '...' strings treat backslash as an escape (standard_conforming_strings off). */
  backslashEscapes = false;

  /** True between statements: outside any literal or comment, with no statement open. */
  get atStatementBoundary(): boolean {
    return this.#state === State.Normal && !this.#inStatement && !this.#inWord;
  }

  /** True once, right after a `COPY ... FROM stdin;` statement has ended. */
  takeCopyStart = (): boolean => {
    const follows = this.#copyFollows;
    this.#copyFollows = false;
    return follows;
  };

  /** Feeds bytes `buffer[start..end)`. */
  feed = (buffer: Uint8Array, start: number, end: number): void => {
    let index = start;
    while (index < end) {
      const byte = buffer[index] as number;
      switch (this.#state) {
        case State.Normal:
          this.#normal(byte);
          break;
        case State.SingleQuote: {
          const close = buffer.indexOf(SINGLE, index);
          if (close === -1 || close >= end) return;
          index = close;
          this.#state = State.SingleQuoteEnd;
          break;
        }
        case State.SingleQuoteEnd:
          if (byte === SINGLE) {
            this.#state = State.SingleQuote;
            break;
          }
          this.#state = State.Normal;
          this.#lastToken = "'";
          continue;
        case State.EscapeQuote:
          if (byte === BACKSLASH) this.#state = State.EscapeQuoteBackslash;
          else if (byte === SINGLE) this.#state = State.EscapeQuoteEnd;
          break;
        case State.EscapeQuoteBackslash:
          this.#state = State.EscapeQuote;
          break;
        case State.EscapeQuoteEnd:
          if (byte === SINGLE) {
            this.#state = State.EscapeQuote;
            break;
          }
          this.#state = State.Normal;
          this.#lastToken = "'";
          continue;
        case State.DoubleQuote: {
          const close = buffer.indexOf(DOUBLE, index);
          if (close === -1 || close >= end) return;
          index = close;
          this.#state = State.DoubleQuoteEnd;
          break;
        }
        case State.DoubleQuoteEnd:
          if (byte === DOUBLE) {
            this.#state = State.DoubleQuote;
            break;
          }
          this.#state = State.Normal;
          this.#pushToken('"');
          continue;
        case State.DollarOpen:
          if (byte === DOLLAR) {
            this.#state = State.DollarBody;
            break;
          }
          if (
            (isIdentStart(byte) || (this.#tag !== "" && isIdentPart(byte))) &&
            this.#tag.length < MAX_TAG
          ) {
            this.#tag += String.fromCharCode(byte);
            break;
          }
          // Not a dollar quote after all (a parameter such as $1, or stray text).
          this.#state = State.Normal;
          this.#pushToken("$");
          continue;
        case State.DollarBody: {
          const next = buffer.indexOf(DOLLAR, index);
          if (next === -1 || next >= end) return;
          index = next;
          this.#state = State.DollarClose;
          this.#tagMatched = 0;
          break;
        }
        case State.DollarClose:
          if (
            this.#tagMatched < this.#tag.length &&
            byte === this.#tag.charCodeAt(this.#tagMatched)
          ) {
            this.#tagMatched++;
            break;
          }
          if (this.#tagMatched === this.#tag.length && byte === DOLLAR) {
            this.#state = State.Normal;
            this.#pushToken("$$");
            break;
          }
          this.#state = State.DollarBody;
          continue;
        case State.LineComment: {
          const next = buffer.indexOf(NEWLINE, index);
          if (next === -1 || next >= end) return;
          index = next;
          this.#state = State.Normal;
          continue;
        }
        case State.BlockComment:
          if (byte === STAR) this.#state = State.BlockStar;
          else if (byte === SLASH) this.#state = State.BlockSlash;
          break;
        case State.BlockStar:
          if (byte === SLASH) {
            this.#commentDepth--;
            this.#state = this.#commentDepth === 0 ? State.Normal : State.BlockComment;
            break;
          }
          if (byte === STAR) break;
          this.#state = State.BlockComment;
          continue;
        case State.BlockSlash:
          if (byte === STAR) {
            this.#commentDepth++;
            this.#state = State.BlockComment;
            break;
          }
          this.#state = State.BlockComment;
          continue;
        case State.Dash:
          if (byte === DASH) {
            this.#state = State.LineComment;
            break;
          }
          this.#state = State.Normal;
          this.#punctuation("-");
          continue;
        case State.Slash:
          if (byte === STAR) {
            this.#commentDepth = 1;
            this.#state = State.BlockComment;
            break;
          }
          this.#state = State.Normal;
          this.#punctuation("/");
          continue;
      }
      index++;
    }
  };

  #normal = (byte: number): void => {
    if (this.#inWord) {
      if (isIdentPart(byte)) {
        if (this.#word.length <= MAX_WORD) this.#word += String.fromCharCode(upper(byte));
        return;
      }
      this.#endWord();
      if (byte === SINGLE && this.#lastToken === "E") {
        // E'...' strings: the letter directly before the quote makes backslash an escape.
        this.#state = State.EscapeQuote;
        return;
      }
    }

    if (isSpace(byte)) return;
    if (isIdentStart(byte)) {
      this.#inStatement = true;
      this.#inWord = true;
      this.#word = String.fromCharCode(upper(byte));
      return;
    }
    switch (byte) {
      case SINGLE:
        this.#inStatement = true;
        this.#state = this.backslashEscapes ? State.EscapeQuote : State.SingleQuote;
        return;
      case DOUBLE:
        this.#inStatement = true;
        this.#state = State.DoubleQuote;
        return;
      case DOLLAR:
        this.#inStatement = true;
        this.#tag = "";
        this.#state = State.DollarOpen;
        return;
      case DASH:
        this.#state = State.Dash;
        return;
      case SLASH:
        this.#state = State.Slash;
        return;
      case SEMICOLON:
        this.#semicolon();
        return;
      case OPEN_PAREN:
        this.#parenDepth++;
        break;
      case CLOSE_PAREN:
        if (this.#parenDepth > 0) this.#parenDepth--;
        break;
    }
    this.#punctuation(String.fromCharCode(byte));
  };

  #punctuation = (token: string): void => {
    this.#inStatement = true;
    this.#pushToken(token);
  };

  #endWord = (): void => {
    this.#inWord = false;
    const word = this.#word.length > MAX_WORD ? "" : this.#word;
    if (this.#atomicDepth > 0) {
      if (word === "CASE") this.#atomicDepth++;
      else if (word === "END") this.#atomicDepth--;
    } else if (word === "ATOMIC" && this.#lastToken === "BEGIN" && this.#firstToken === "CREATE") {
      this.#atomicDepth = 1;
    }
    this.#pushToken(word);
  };

  #pushToken = (token: string): void => {
    if (this.#tokens === 0) this.#firstToken = token;
    this.#tokens++;
    this.#previousToken = this.#lastToken;
    this.#lastToken = token;
  };

  #semicolon = (): void => {
    if (this.#parenDepth > 0 || this.#atomicDepth > 0) {
      this.#punctuation(";");
      return;
    }
    this.#copyFollows =
      this.#firstToken === "COPY" && this.#previousToken === "FROM" && this.#lastToken === "STDIN";
    this.#inStatement = false;
    this.#tokens = 0;
    this.#firstToken = "";
    this.#previousToken = "";
    this.#lastToken = "";
  };
}
