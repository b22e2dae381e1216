// Stands in for `Intl.Segmenter` in the bundle (scripts/bundle.mjs). yargs lays out the help text of the
// command it runs (to have it ready for errors), and its layout (string-width, in three copies) segments
// every word into graphemes. The first Intl.Segmenter a process uses loads ICU's break-iteration data, ~0.9
// MiB of RSS that a node-local watcher never needs: its help text is ASCII. So text of printable ASCII, tabs
// and line feeds (where every character is a grapheme of its own; CR is left out, as CR LF is one) is
// segmented here, and anything else by the real segmenter, created on first use (reached through
// `globalThis.Intl['Segmenter']`, to which the bundle's replacement of `Intl.Segmenter` does not apply).
const SIMPLE_TEXT = /^[\t\n\x20-\x7e]*$/;

/** The segments of text in which every character is a grapheme: what the real segmenter gives for it. */
function characterSegments(input) {
  const segmentAt = (index) =>
    index >= 0 && index < input.length ? { segment: input[index], index, input } : undefined;
  return {
    containing: (index = 0) => segmentAt(Math.trunc(Number(index)) || 0),
    *[Symbol.iterator]() {
      for (let index = 0; index < input.length; index += 1) yield segmentAt(index);
    },
  };
}

class LazySegmenter {
  #arguments;
  #segmenter;
  #graphemes;

  constructor(...args) {
    this.#arguments = args;
    const options = args[1];
    this.#graphemes =
      options === undefined || options.granularity === undefined || options.granularity === 'grapheme';
  }

  #real() {
    this.#segmenter ??= new globalThis.Intl['Segmenter'](...this.#arguments);
    return this.#segmenter;
  }

  segment(input) {
    const text = String(input);
    if (this.#graphemes && SIMPLE_TEXT.test(text)) return characterSegments(text);
    return this.#real().segment(text);
  }

  resolvedOptions() {
    return this.#real().resolvedOptions();
  }
}

export { LazySegmenter as 'Intl.Segmenter' };
