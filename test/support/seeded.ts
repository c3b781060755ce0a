/**
 * mulberry32: a small seeded random generator, so a generated file or a failing split can
 * be made again from its seed.
 *
 * @example
 * const random = seeded(42);
 * random(); // the same number in [0, 1) on every run
 */
export const seeded = (seed: number): (() => number) => {
  let state = seed >>> 0;
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};
