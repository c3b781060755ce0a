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

/**
 * Tokens are small numbers, not strings, so the per-byte path allocates nothing: a word of
 * up to six ASCII letters is packed five bits a letter; every other token is `OTHER`.
 */
const NO_TOKEN = 0;
const OTHER = -1;
const MAX_PACKED_LETTERS = 6;

const pack = (word: string): number => {
  let code = 0;
  for (let index = 0; index < word.length; index++) code = code * 32 + word.charCodeAt(index) - 64;
  return code;
};

const ATOMIC = pack("ATOMIC");
const BEGIN = pack("BEGIN");
const CASE = pack("CASE");
const COPY = pack("COPY");
const CREATE = pack("CREATE");
const E = pack("E");
const END = pack("END");
const FROM = pack("FROM");
const STDIN = pack("STDIN");

/** What a byte does outside literals and comments. */
enum Kind {
  /** Punctuation and operators: a token of its own. */
  Plain,
  Space,
  Newline,
  /** Starts a word: letters, `_`, non-ASCII bytes (as in PostgreSQL's scanner), digits. */
  Word,
  /** Quotes, comment starts, `;` and parentheses, which need a closer look. */
  Special,
}

const KIND = new Uint8Array(256);
/** 1 for the bytes that continue a word: those that start one, and `$`. */
const IN_WORD = new Uint8Array(256);
for (let byte = 0; byte < 256; byte++) {
  const letter = (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a);
  const digit = byte >= 0x30 && byte <= 0x39;
  if (letter || digit || byte === 0x5f || byte >= 0x80) KIND[byte] = Kind.Word;
  IN_WORD[byte] = KIND[byte] === Kind.Word || byte === DOLLAR ? 1 : 0;
}
for (const byte of [0x20, 0x09, 0x0d, 0x0c]) KIND[byte] = Kind.Space;
KIND[NEWLINE] = Kind.Newline;
for (const byte of [SINGLE, DOUBLE, DOLLAR, DASH, SLASH, SEMICOLON, OPEN_PAREN, CLOSE_PAREN]) {
  KIND[byte] = Kind.Special;
}

/** Bytes that may begin a dollar-quote tag: those that begin a word, except digits. */
const isTagStart = (byte: number): boolean => KIND[byte] === Kind.Word && !(byte <= 0x39);

/** The packed code of a word after one more byte, or `OTHER` once it cannot be a keyword. */
const extend = (code: number, length: number, byte: number): number => {
  if (code === OTHER || length >= MAX_PACKED_LETTERS) return OTHER;
  const letter = byte & 0xdf;
  return letter >= 0x41 && letter <= 0x5a ? code * 32 + letter - 64 : OTHER;
};

/**
 * Tracks SQL structure across arbitrary splits of the input.
 *
 * @example
 * const lexer = new SqlLexer();
 * const next = lexer.feed(bytes, 0, bytes.length);
 * if (next !== -1) { ... } // bytes[next] starts a line at a statement boundary
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
  #inWord = false;
  #word = NO_TOKEN;
  #wordLength = 0;
  #firstToken = NO_TOKEN;
  #previousToken = NO_TOKEN;
  #lastToken = NO_TOKEN;
  #copyFollows = false;
  /** Set when a run of plain SQL stopped at a newline that ends a statement's last line. */
  #atLineBoundary = false;

  /** Plain '...' strings treat backslash as an escape (standard_conforming_strings off). */
  backslashEscapes = false;

  /** True once, right after a `COPY ... FROM stdin;` statement has ended. */
  takeCopyStart = (): boolean => {
    const follows = this.#copyFollows;
    this.#copyFollows = false;
    return follows;
  };

  /**
   * Feeds bytes `buffer[start..end)` up to the first newline after which a line begins at a
   * statement boundary, and returns the index just past that newline; -1 when the range
   * holds none (all of it was fed). Bytes after the returned index are not fed.
   */
  feed = (buffer: Uint8Array, start: number, end: number): number => {
    let index = start;
    while (index < end) {
      const byte = buffer[index] as number;
      switch (this.#state) {
        case State.Normal:
          index = this.#plainRun(buffer, index, end);
          if (this.#atLineBoundary) {
            this.#atLineBoundary = false;
            return index;
          }
          continue;
        case State.SingleQuote: {
          const close = buffer.indexOf(SINGLE, index);
          if (close === -1 || close >= end) return -1;
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
          this.#pushToken(OTHER);
          continue;
        case State.EscapeQuote: {
          // A tight loop, not indexOf: the next quote and the next backslash are both needed.
          let next = index;
          while (next < end && buffer[next] !== SINGLE && buffer[next] !== BACKSLASH) next++;
          if (next === end) return -1;
          index = next;
          this.#state = buffer[next] === SINGLE ? State.EscapeQuoteEnd : State.EscapeQuoteBackslash;
          break;
        }
        case State.EscapeQuoteBackslash:
          this.#state = State.EscapeQuote;
          break;
        case State.EscapeQuoteEnd:
          if (byte === SINGLE) {
            this.#state = State.EscapeQuote;
            break;
          }
          this.#state = State.Normal;
          this.#pushToken(OTHER);
          continue;
        case State.DoubleQuote: {
          const close = buffer.indexOf(DOUBLE, index);
          if (close === -1 || close >= end) return -1;
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
          this.#pushToken(OTHER);
          continue;
        case State.DollarOpen:
          if (byte === DOLLAR) {
            this.#state = State.DollarBody;
            break;
          }
          // PostgreSQL puts no limit on a tag's length, so neither does this.
          if (isTagStart(byte) || (KIND[byte] === Kind.Word && this.#tag !== "")) {
            this.#tag += String.fromCharCode(byte);
            break;
          }
          // Not a dollar quote after all (a parameter such as $1, or stray text).
          this.#state = State.Normal;
          this.#pushToken(OTHER);
          continue;
        case State.DollarBody: {
          const next = buffer.indexOf(DOLLAR, index);
          if (next === -1 || next >= end) return -1;
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
            this.#pushToken(OTHER);
            break;
          }
          this.#state = State.DollarBody;
          continue;
        case State.LineComment: {
          const next = buffer.indexOf(NEWLINE, index);
          if (next === -1 || next >= end) return -1;
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
          this.#punctuation();
          continue;
        case State.Slash:
          if (byte === STAR) {
            this.#commentDepth = 1;
            this.#state = State.BlockComment;
            break;
          }
          this.#state = State.Normal;
          this.#punctuation();
          continue;
      }
      index++;
    }
    return -1;
  };

  /**
   * Reads plain SQL (the Normal state) from `start` in one loop, the hot path of DDL and
   * INSERT statements. Returns the index after the last byte read: `end`, or just past a
   * byte that left the Normal state, or just past a newline that ends a statement's last
   * line (then `#atLineBoundary` is set).
   */
  #plainRun = (buffer: Uint8Array, start: number, end: number): number => {
    let inWord = this.#inWord;
    let word = this.#word;
    let wordLength = this.#wordLength;
    let index = start;
    for (; index < end; index++) {
      const byte = buffer[index] as number;
      if (inWord) {
        if (IN_WORD[byte] === 1) {
          word = extend(word, wordLength, byte);
          wordLength++;
          continue;
        }
        inWord = false;
        this.#endWord(word);
        if (byte === SINGLE && word === E) {
          // E'...' strings: the letter directly before the quote makes backslash an escape.
          this.#state = State.EscapeQuote;
          index++;
          break;
        }
      }

      const kind = KIND[byte];
      if (kind === Kind.Space) continue;
      if (kind === Kind.Word) {
        this.#inStatement = true;
        inWord = true;
        word = extend(NO_TOKEN, 0, byte);
        wordLength = 1;
        continue;
      }
      if (kind === Kind.Newline) {
        if (this.#inStatement) continue;
        this.#atLineBoundary = true;
        index++;
        break;
      }
      if (kind === Kind.Plain) {
        this.#punctuation();
        continue;
      }
      if (this.#special(byte)) {
        index++;
        break;
      }
    }
    this.#inWord = inWord;
    this.#word = word;
    this.#wordLength = wordLength;
    return index;
  };

  /** Handles a `Special` byte in plain SQL; true when it left the Normal state. */
  #special = (byte: number): boolean => {
    switch (byte) {
      case SINGLE:
        this.#inStatement = true;
        this.#state = this.backslashEscapes ? State.EscapeQuote : State.SingleQuote;
        return true;
      case DOUBLE:
        this.#inStatement = true;
        this.#state = State.DoubleQuote;
        return true;
      case DOLLAR:
        this.#inStatement = true;
        this.#tag = "";
        this.#state = State.DollarOpen;
        return true;
      case DASH:
        this.#state = State.Dash;
        return true;
      case SLASH:
        this.#state = State.Slash;
        return true;
      case SEMICOLON:
        this.#semicolon();
        return false;
      case OPEN_PAREN:
        this.#parenDepth++;
        break;
      case CLOSE_PAREN:
        if (this.#parenDepth > 0) this.#parenDepth--;
        break;
    }
    this.#punctuation();
    return false;
  };

  #punctuation = (): void => {
    this.#inStatement = true;
    this.#pushToken(OTHER);
  };

  #endWord = (word: number): void => {
    if (this.#atomicDepth > 0) {
      if (word === CASE) this.#atomicDepth++;
      else if (word === END) this.#atomicDepth--;
    } else if (word === ATOMIC && this.#lastToken === BEGIN && this.#firstToken === CREATE) {
      this.#atomicDepth = 1;
    }
    this.#pushToken(word);
  };

  #pushToken = (token: number): void => {
    if (this.#firstToken === NO_TOKEN) this.#firstToken = token;
    this.#previousToken = this.#lastToken;
    this.#lastToken = token;
  };

  #semicolon = (): void => {
    if (this.#parenDepth > 0 || this.#atomicDepth > 0) {
      this.#punctuation();
      return;
    }
    this.#copyFollows =
      this.#firstToken === COPY && this.#previousToken === FROM && this.#lastToken === STDIN;
    this.#inStatement = false;
    this.#firstToken = NO_TOKEN;
    this.#previousToken = NO_TOKEN;
    this.#lastToken = NO_TOKEN;
  };
}
