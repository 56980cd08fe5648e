/**
 * Incremental detokenization for streaming: byte-level tokens can split a UTF-8 character, and
 * sentencepiece-style decoders drop a leading space when a piece is decoded alone. So each step decodes a
 * short window that starts one chunk back (for context) and holds text back while it ends in an incomplete
 * character.
 *
 * @module
 */

/** Decoding function the stream uses (a tokenizer's `decode`, with its options bound). */
export type DecodeFn = (ids: readonly number[]) => string;

const REPLACEMENT = "\uFFFD";

/** Turns a growing list of token ids into text deltas that never contain half a character. */
export class StreamDecoder {
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;
  /** Characters past the read offset already emitted while the window still ended mid-character. */
  private emittedAhead = 0;
  private emitted = "";

  /** Creates a stream over `decode`. */
  constructor(private readonly decode: DecodeFn) {}

  /** Appends token ids and returns the newly completed text (possibly ""). */
  push(ids: number | readonly number[]): string {
    if (typeof ids === "number") this.ids.push(ids);
    else this.ids.push(...ids);
    const prefixText = this.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const newText = this.decode(this.ids.slice(this.prefixOffset));
    if (newText.length <= prefixText.length) return "";
    let complete = newText;
    while (complete.endsWith(REPLACEMENT)) complete = complete.slice(0, -1);
    const delta = complete.slice(prefixText.length + this.emittedAhead);
    if (complete.length === newText.length) {
      // Window ends on a whole character: later windows may start here.
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      this.emittedAhead = 0;
    } else {
      this.emittedAhead += delta.length;
    }
    this.emitted += delta;
    return delta;
  }

  /** Returns whatever text is still held back (incomplete characters decode to U+FFFD) and ends the stream. */
  flush(): string {
    if (this.readOffset === this.ids.length) return "";
    const prefixText = this.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const newText = this.decode(this.ids.slice(this.prefixOffset));
    const delta = newText.slice(prefixText.length + this.emittedAhead);
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    this.emittedAhead = 0;
    this.emitted += delta;
    return delta;
  }

  /** All text emitted so far. */
  get text(): string {
    return this.emitted;
  }

  /** All ids pushed so far. */
  get tokenIds(): readonly number[] {
    return this.ids;
  }
}
