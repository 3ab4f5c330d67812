#!/usr/bin/env node
// Synthetic play counts in the Last.fm 360K layout (user-sha1 \t artist-mbid \t artist-name \t
// plays), deterministic per seed, for tests and benchmarks at any scale up to the real file's.
//
// The model of the data:
// - Popularity is Zipf-like (weight ∝ rank^-s), twice over: genres (genre g has a share
//   ∝ 1/(g + 1) of the artists and of the fans) and artists within a genre (weight of the k-th
//   ∝ (k + 1)^-1.7). Real listening is like that, a few artists everybody knows and most with a
//   handful of listeners, and that skew is what stresses a recommender (long rows for popular
//   items, most items nearly empty): uniform random data would measure the wrong thing. At full
//   scale the top artists have about 100,000 listeners and the median artist 3.
// - Taste groups make the data learnable: every artist belongs to one genre (about √items / 2
//   of them, at most 300); every user loves 1-3 genres and takes most artists from them,
//   popularity-weighted within the genre, plus 0-16% "global" picks: a genre in proportion to
//   its fans, then a popular artist of it (flatter over the first few dozen, so that global
//   picks do not tie the heads of all genres together). Hence artists of one genre share
//   listeners, and a model trained on the file finds that an artist's nearest neighbours are
//   mostly of its genre (--genres FILE writes every artist's genre).
// - Every artist gets one listener among its genre's fans before the random picks (while there
//   is room), so the file names every artist of the catalogue, as the real one does.
// - Play counts are log-normal (a per-user activity level, plus a bonus for the favourite
//   genres) with a rare Pareto boost for the few huge counts; integers ≥ 1.
// - Each user has about rows/users distinct artists (varied, the total exactly --rows), written
//   together, most played first, as in the real file (each user's top ≤ 50 artists).
// - The real file's quirks, at small rates: artist names in another letter case (the same
//   artist spelled "Foo Bar" in some rows, and a few users listing "foo bar" and "FOO BAR"
//   both), names starting with a double quote (with or without the closing one), a "\r" inside a
//   name or before the "\n", and malformed rows (about 1 in 100,000: a missing field, or plays
//   that are not a number). Otherwise no (user, artist) pair appears twice.
//
// Everything comes from a seeded PRNG (sfc32), never Math.random: the same arguments give the
// same bytes. Rows are written as bytes into large Buffers streamed to the file with
// backpressure; the sampling tables are typed arrays and no object is made per row.
//
// usage: node scripts/synth.js [--users N] [--items N] [--rows N] [--seed N] [--out FILE] [--genres FILE]
// library: import { generate } from './scripts/synth.js'; await generate({ users, items, rows, seed, out })
import { createWriteStream, openSync, writeFileSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';

/** The shape of the Last.fm 360K file. */
export const FULL_SCALE = Object.freeze({ users: 359347, items: 292385, rows: 17559530, seed: 1 });

// --- the model's constants ---------------------------------------------------------------------
/** genre picks: weight (rank within the genre + Q)^-S */
const GENRE_ZIPF_S = 1.7;
const GENRE_ZIPF_Q = 1;
/**
 * global picks (outside the favourite genres): a genre in proportion to its fans, then weight
 * (rank + Q)^-S, flat over the first few dozen: popular artists, but not always the same few,
 * which would tie the heads of all genres together
 */
const GLOBAL_ZIPF_S = 2;
const GLOBAL_ZIPF_Q = 30;
/** share of a user's picks that are global picks: uniform in [MIN, MIN + SPAN) per user */
const GLOBAL_SHARE_MIN = 0;
const GLOBAL_SHARE_SPAN = 0.16;
/** genre g's share of the artists and of the users' favourite-genre choices ∝ (g + 1)^-S */
const GENRE_SHARE_S = 1;
/** how a user's picks divide among 1, 2 or 3 favourite genres */
const FAVOURITE_SHARES = [[1], [0.65, 0.35], [0.5, 0.3, 0.2]];
/** log-plays bonus of the artists of a user's 1st, 2nd, 3rd favourite genre */
const FAVOURITE_BONUS = [0.6, 0.3, 0.15];
/** log plays = N(PLAYS_MU, PLAYS_USER_SD) per user + N(0, PLAYS_SD) per row + bonus */
const PLAYS_MU = 4.2;
const PLAYS_USER_SD = 0.8;
const PLAYS_SD = 1.0;
/** rare huge counts: with this probability a row's plays are multiplied by a Pareto(1.1) factor */
const PLAYS_BOOST_RATE = 1e-4;
const PLAYS_BOOST_MAX = 1000;
/** quirks */
const MBID_EMPTY_RATE = 0.1;
const QUOTED_NAME_RATE = 0.003;
const CR_NAME_RATE = 0.0005;
const ACCENT_RATE = 0.03;
const VARIANT_ARTIST_RATE = 0.02; // artists with a second spelling ("Foo Bar" for "foo bar")
const VARIANT_ROW_RATE = 0.2; // share of such an artist's rows that use it
const CASE_DUPLICATE_USER_RATE = 0.003; // users who list one artist twice, as "foo" and "FOO"
const CRLF_ROW_RATE = 1e-4;
const MALFORMED_EVERY = 100000;

const CHUNK_BYTES = 1 << 22;

// --- the PRNG ----------------------------------------------------------------------------------
/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), seeded by splitmix32. */
class Random {
  constructor(seed, stream) {
    let s = (Math.floor(seed / 4294967296) * 0x9e3779b1) ^ (seed >>> 0) ^ Math.imul(stream + 1, 0x85ebca6b);
    const mix = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = 1;
    this.spare = 0;
    this.hasSpare = false;
    for (let i = 0; i < 16; i++) this.u32();
  }

  u32() {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** uniform in [0, 1) */
  next() {
    return this.u32() / 4294967296;
  }

  /** uniform integer in [0, n) */
  below(n) {
    return Math.floor(this.next() * n);
  }

  /** standard normal (Box-Muller, two at a time) */
  normal() {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    this.hasSpare = true;
    return r * Math.cos(2 * Math.PI * v);
  }
}

/** The first index in [lo, hi) whose cumulative weight exceeds t (t below cum[hi - 1]). */
function search(cum, lo, hi, t) {
  hi--;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid] > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// --- names -------------------------------------------------------------------------------------
const ONSETS =
  'b c d f g h j k l m n p r s t v w z b d g k l m n r s t br ch cr dr fl gr kr pl sh sk sl st th tr bl gl sp'.split(
    ' ',
  );
const VOWELS = 'a e i o u a e i o a e o ai ea ou io oo ee y ia'.split(' ');
const CODAS = ['', '', '', '', '', 'n', 'r', 's', 'l', 'm', 'x', 'k', 'nd', 'st', 'rt', 'sh', 'th', 'ng', 'z', 'ck'];
const NOUNS =
  'band orchestra quartet trio project collective ensemble experience brothers sisters sound machine club kids boys girls'.split(
    ' ',
  );
const ACCENTS = { a: 'å', e: 'é', o: 'ö', u: 'ü', i: 'í' };

function pick(random, list) {
  return list[random.below(list.length)];
}

function word(random, syllables) {
  let text = random.next() < 0.15 ? '' : pick(random, ONSETS);
  for (let i = 0; i < syllables; i++) {
    text += pick(random, VOWELS);
    text += i === syllables - 1 || random.next() < 0.3 ? pick(random, CODAS) : '';
    if (i < syllables - 1) text += pick(random, ONSETS);
  }
  return text;
}

function syllables(random) {
  return 1 + random.below(3);
}

/** A pronounceable lower-case artist name (not yet checked for uniqueness). */
function artistName(random) {
  const r = random.next();
  let name;
  if (r < 0.3) name = word(random, 2 + random.below(2));
  else if (r < 0.55) name = `${word(random, syllables(random))} ${word(random, 2 + random.below(2))}`;
  else if (r < 0.67) name = `the ${word(random, 2 + random.below(2))}${random.next() < 0.5 ? 's' : ''}`;
  else if (r < 0.73) name = `${word(random, syllables(random))} & the ${word(random, 2)}s`;
  else if (r < 0.77) name = `${pick(random, ['dj', 'mc', 'lil'])} ${word(random, syllables(random))}`;
  else if (r < 0.85)
    name = `${word(random, syllables(random))} ${word(random, syllables(random))} ${word(random, syllables(random))}`;
  else if (r < 0.92) name = `${word(random, syllables(random))} ${pick(random, NOUNS)}`;
  else name = `${word(random, syllables(random))} and ${word(random, syllables(random))}`;
  if (random.next() < ACCENT_RATE) {
    const vowels = [...name].map((ch, i) => (ch in ACCENTS ? i : -1)).filter((i) => i >= 0);
    if (vowels.length > 0) {
      const at = pick(random, vowels);
      name = name.slice(0, at) + ACCENTS[name[at]] + name.slice(at + 1);
    }
  }
  return name;
}

/** "foo bar" → "Foo Bar" (letters after a space, quote, hyphen or the start). */
function titleCase(name) {
  return name.replace(/(^|[\s"&-])(\p{Ll})/gu, (_, before, letter) => before + letter.toUpperCase());
}

function uuid(random) {
  const hex = (n, digits) => n.toString(16).padStart(digits, '0');
  const a = random.u32();
  const b = random.u32();
  const c = random.u32();
  const d = random.u32();
  // version 4, variant 10xx, as MusicBrainz ids are
  return `${hex(a, 8)}-${hex(b >>> 16, 4)}-4${hex(b & 0xfff, 3)}-${hex(0x8000 | (c >>> 18), 4)}-${hex(c & 0xffff, 4)}${hex(d, 8)}`;
}

// --- arguments ---------------------------------------------------------------------------------
export class SynthUsageError extends Error {}

function checkWhole(name, value, min) {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new SynthUsageError(
      `--${name} must be a whole number${min > 0 ? ` ≥ ${min}` : ''}, not ${JSON.stringify(String(value))}`,
    );
  }
}

/** Checks the numbers; throws SynthUsageError with a one-line reason. */
export function checkShape({ users, items, rows, seed }) {
  checkWhole('users', users, 1);
  checkWhole('items', items, 1);
  checkWhole('rows', rows, 1);
  checkWhole('seed', seed, 0);
  if (users > 2 ** 31 - 1 || items > 2 ** 31 - 1) throw new SynthUsageError('--users and --items must be below 2^31');
  if (rows < users)
    throw new SynthUsageError(`--rows (${rows}) must be at least --users (${users}): every user has a row`);
  if (rows > users * items) {
    throw new SynthUsageError(
      `--rows (${rows}) is more than --users × --items (${users * items}): a user lists an artist once`,
    );
  }
}

export function defaultOutName({ users, items, rows, seed }) {
  return `synth-${users}x${items}x${rows}-s${seed}.tsv`;
}

// --- the generator -----------------------------------------------------------------------------
/**
 * Writes the file `out` (default synth-<users>x<items>x<rows>-s<seed>.tsv) and, when `genres`
 * is given, "artist-name \t genre" lines there. Resolves to a summary: rows written; users and
 * items as a reader will count them (those with at least one well-formed row: normally equal
 * to the arguments); bytes; malformed rows; seconds.
 */
export async function generate(options = {}) {
  const started = performance.now();
  const shape = { ...FULL_SCALE, ...options };
  const { users: U, items: I, rows: R, seed } = shape;
  checkShape(shape);
  const out = options.out ?? defaultOutName(shape);

  const setup = new Random(seed, 1);

  // artists: genres, and popularity within a genre (rank = order of index within the genre)
  const G = Math.max(1, Math.min(300, Math.round(Math.sqrt(I) / 2)));
  const genreSizeCum = new Float64Array(G);
  for (let g = 0, sum = 0; g < G; g++) genreSizeCum[g] = sum += (g + 1) ** -GENRE_SHARE_S;
  const genreOf = new Int32Array(I);
  const genreStart = new Int32Array(G + 1);
  for (let a = 0; a < I; a++) {
    const g = search(genreSizeCum, 0, G, setup.next() * genreSizeCum[G - 1]);
    genreOf[a] = g;
    genreStart[g + 1]++;
  }
  for (let g = 0; g < G; g++) genreStart[g + 1] += genreStart[g];
  // the artists grouped by genre, by rank within a genre, with cumulative genre-pick weights
  const byGenre = new Int32Array(I);
  {
    const fill = genreStart.slice(0, G);
    for (let a = 0; a < I; a++) byGenre[fill[genreOf[a]]++] = a;
  }
  const genreCum = new Float64Array(I);
  const headCum = new Float64Array(I); // for the global picks
  for (let g = 0, sum = 0, headSum = 0; g < G; g++) {
    for (let k = genreStart[g]; k < genreStart[g + 1]; k++) {
      genreCum[k] = sum += (k - genreStart[g] + GENRE_ZIPF_Q) ** -GENRE_ZIPF_S;
      headCum[k] = headSum += (k - genreStart[g] + GLOBAL_ZIPF_Q) ** -GLOBAL_ZIPF_S;
    }
  }
  // genres chosen as favourites, and for global picks, in proportion to their fans (none for a
  // genre without artists)
  const genreWeightCum = new Float64Array(G);
  for (let g = 0, sum = 0; g < G; g++)
    genreWeightCum[g] = sum += genreStart[g + 1] > genreStart[g] ? (g + 1) ** -GENRE_SHARE_S : 0;

  // names, mbids and the bytes "\t mbid \t name \t" of every artist (and of its second spelling)
  const names = new Array(I);
  const mbids = new Array(I);
  const variants = new Array(I).fill(null);
  {
    const seen = new Set();
    for (let a = 0; a < I; a++) {
      let name;
      for (let attempt = 0; ; attempt++) {
        name = artistName(setup);
        if (attempt > 20) name += ` ${attempt}`;
        if (!seen.has(name)) break;
      }
      seen.add(name);
      if (setup.next() < QUOTED_NAME_RATE) {
        // "weird al" yankovic, or an unclosed "weird al yankovic
        const space = name.indexOf(' ');
        const quoted = space > 0 && setup.next() < 0.5 ? `"${name.slice(0, space)}"${name.slice(space)}` : `"${name}`;
        if (!seen.has(quoted)) seen.add((name = quoted));
      }
      if (setup.next() < CR_NAME_RATE) {
        const at = 1 + setup.below(name.length);
        const withCr = `${name.slice(0, at)}\r${name.slice(at)}`;
        if (!seen.has(withCr)) seen.add((name = withCr));
      }
      names[a] = name;
      mbids[a] = setup.next() < MBID_EMPTY_RATE ? '' : uuid(setup);
      if (setup.next() < VARIANT_ARTIST_RATE) {
        const title = titleCase(name);
        variants[a] = title !== name ? title : name.toUpperCase();
      }
    }
  }
  const segmentText = [];
  const segmentStart = new Int32Array(I + 1);
  const variantStart = new Int32Array(I).fill(-1);
  const variantEnd = new Int32Array(I);
  let maxSegment = 0;
  {
    let at = 0;
    const add = (text) => {
      const length = Buffer.byteLength(text);
      segmentText.push(text);
      maxSegment = Math.max(maxSegment, length);
      at += length;
    };
    for (let a = 0; a < I; a++) {
      segmentStart[a] = at;
      add(`\t${mbids[a]}\t${names[a]}\t`);
    }
    segmentStart[I] = at;
    for (let a = 0; a < I; a++) {
      if (variants[a] === null) continue;
      variantStart[a] = at;
      add(`\t${mbids[a]}\t${variants[a]}\t`);
      variantEnd[a] = at;
    }
  }
  const segments = Buffer.from(segmentText.join(''));
  segmentText.length = 0;

  // users: favourite genres, share of global picks, activity, number of rows
  const favourites = new Int32Array(3 * U);
  const favouriteCount = new Uint8Array(U);
  const globalShare = new Float64Array(U);
  const activity = new Float64Array(U);
  const genreFans = new Int32Array(G + 1);
  const nonEmptyGenres = genreStart.reduce((n, start, g) => n + (g < G && genreStart[g + 1] > start ? 1 : 0), 0);
  for (let u = 0; u < U; u++) {
    const r = setup.next();
    const k = Math.min(nonEmptyGenres, r < 0.35 ? 1 : r < 0.75 ? 2 : 3);
    let have = 0;
    while (have < k) {
      const g = search(genreWeightCum, 0, G, setup.next() * genreWeightCum[G - 1]);
      let repeated = false;
      for (let j = 0; j < have; j++) if (favourites[3 * u + j] === g) repeated = true;
      if (repeated) continue;
      favourites[3 * u + have++] = g;
      genreFans[g + 1]++;
    }
    favouriteCount[u] = k;
    globalShare[u] = GLOBAL_SHARE_MIN + GLOBAL_SHARE_SPAN * setup.next();
    activity[u] = PLAYS_MU + PLAYS_USER_SD * setup.normal();
  }
  for (let g = 0; g < G; g++) genreFans[g + 1] += genreFans[g];
  const fans = new Int32Array(genreFans[G]);
  {
    const fill = genreFans.slice(0, G);
    for (let u = 0; u < U; u++) for (let j = 0; j < favouriteCount[u]; j++) fans[fill[favourites[3 * u + j]]++] = u;
  }

  // rows per user: spread evenly (the total exactly R), then varied by moving rows within pairs
  const rowCount = new Int32Array(U);
  for (let u = 0; u < U; u++) rowCount[u] = Math.floor(((u + 1) * R) / U) - Math.floor((u * R) / U);
  for (let u = 0; u + 1 < U; u += 2) {
    const v = u + 1;
    const spread = Math.floor(0.4 * Math.min(rowCount[u], rowCount[v]));
    let d = setup.below(2 * spread + 1) - spread; // rows moved from u to v
    d = Math.min(d, rowCount[u] - 1, I - rowCount[v]);
    d = Math.max(d, -(rowCount[v] - 1), -(I - rowCount[u]));
    rowCount[u] -= d;
    rowCount[v] += d;
  }
  let maxRows = 0;
  for (let u = 0; u < U; u++) maxRows = Math.max(maxRows, rowCount[u]);

  // every artist one listener among its genre's fans first, while there is room (at most half
  // of a user's rows)
  const forcedStart = new Int32Array(U + 1);
  const forcedUser = new Int32Array(I).fill(-1);
  for (let a = I - 1; a >= 0; a--) {
    const g = genreOf[a];
    const lo = genreFans[g];
    const count = genreFans[g + 1] - lo;
    let user = -1;
    for (let attempt = 0; attempt < 16 && user < 0; attempt++) {
      const u = attempt < 8 && count > 0 ? fans[lo + setup.below(count)] : setup.below(U);
      if (forcedStart[u + 1] < Math.max(1, rowCount[u] >> 1)) user = u;
    }
    if (user < 0) continue;
    forcedUser[a] = user;
    forcedStart[user + 1]++;
  }
  for (let u = 0; u < U; u++) forcedStart[u + 1] += forcedStart[u];
  const forced = new Int32Array(forcedStart[U]);
  {
    const fill = forcedStart.slice(0, U);
    for (let a = 0; a < I; a++) if (forcedUser[a] >= 0) forced[fill[forcedUser[a]]++] = a;
  }

  // malformed rows: about one in MALFORMED_EVERY, never the first line (a reader may take a
  // first line whose plays are not a number for a header)
  const malformedCount = R >= 1000 ? Math.max(1, Math.round(R / MALFORMED_EVERY)) : 0;
  const malformedAt = new Float64Array(malformedCount + 1);
  {
    const chosen = new Set();
    while (chosen.size < malformedCount) chosen.add(1 + setup.below(R - 1));
    malformedAt.set([...chosen].sort((x, y) => x - y));
    malformedAt[malformedCount] = Infinity;
  }

  if (options.genres) {
    const width = String(G - 1).length;
    const lines = new Array(I);
    for (let a = 0; a < I; a++) lines[a] = `${names[a]}\tgenre-${String(genreOf[a]).padStart(width, '0')}\n`;
    writeFileSync(options.genres, lines.join(''));
  }

  // --- the rows ---
  const random = new Random(seed, 2);
  const taken = new Int32Array(I); // u + 1 when user u has the artist
  const seenArtist = new Uint8Array(I); // in a well-formed row
  const picks = new Int32Array(maxRows);
  const plays = new Float64Array(maxRows);
  const spelling = new Uint8Array(maxRows); // 0 the name, 1 the artist's second spelling, 2 upper case
  const order = new Int32Array(maxRows);
  const userId = new Uint8Array(40);
  const digits = new Uint8Array(24);
  const HEX = Buffer.from('0123456789abcdef');
  const maxRowBytes = 40 + maxSegment + 24;

  const fd = openSync(out, 'w');
  const stream = createWriteStream(null, { fd, highWaterMark: 1 << 25 });
  let failure = null;
  stream.on('error', (error) => (failure ??= error));
  let buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  let at = 0;
  let bytes = 0;
  const flush = async () => {
    if (failure) throw failure;
    const full = buffer.subarray(0, at);
    bytes += at;
    buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    at = 0;
    if (!stream.write(full)) {
      await new Promise((resolve) => {
        const done = () => {
          stream.off('drain', done);
          stream.off('error', done);
          resolve();
        };
        stream.on('drain', done);
        stream.on('error', done);
      });
    } else {
      // let finished writes call back, so that writing and generating overlap
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (failure) throw failure;
  };

  let row = 0;
  let malformed = 0;
  let nextMalformed = malformedAt[0];
  let malformedIndex = 0;
  let usersWithRows = 0;
  try {
    for (let u = 0; u < U; u++) {
      const stamp = u + 1;
      const n = rowCount[u];
      const k = favouriteCount[u];
      const f0 = favourites[3 * u];
      const f1 = k > 1 ? favourites[3 * u + 1] : -1;
      const f2 = k > 2 ? favourites[3 * u + 2] : -1;
      const share0 = FAVOURITE_SHARES[k - 1][0];
      const share01 = share0 + (k > 1 ? FAVOURITE_SHARES[k - 1][1] : 0);
      const global = globalShare[u];
      const mu = activity[u];

      // the user id: 8 hex digits that grow with u (the real file is sorted by user), 32 random
      const prefix = Math.min(4294967295, Math.floor(((u + random.next()) / U) * 4294967296));
      for (let j = 0; j < 8; j++) userId[j] = HEX[(prefix >>> (28 - 4 * j)) & 15];
      for (let w = 0; w < 4; w++) {
        const x = random.u32();
        for (let j = 0; j < 8; j++) userId[8 + 8 * w + j] = HEX[(x >>> (28 - 4 * j)) & 15];
      }

      // the artists: its forced ones, then picks from the favourite genres and global picks
      let count = 0;
      const caseDuplicate = n >= 2 && random.next() < CASE_DUPLICATE_USER_RATE ? 1 : 0;
      for (let j = forcedStart[u]; j < forcedStart[u + 1] && count < n - caseDuplicate; j++) {
        picks[count++] = forced[j];
        taken[forced[j]] = stamp;
      }
      while (count < n - caseDuplicate) {
        let a = -1;
        for (let attempt = 0; attempt < 64; attempt++) {
          const r = random.next();
          let candidate;
          if (attempt >= 32) {
            candidate = random.below(I);
          } else if (r < global) {
            const g = search(genreWeightCum, 0, G, random.next() * genreWeightCum[G - 1]);
            const lo = genreStart[g];
            const hi = genreStart[g + 1];
            const base = lo > 0 ? headCum[lo - 1] : 0;
            candidate = byGenre[search(headCum, lo, hi, base + random.next() * (headCum[hi - 1] - base))];
          } else {
            const s = (r - global) / (1 - global);
            const g = s < share0 ? f0 : s < share01 ? f1 : f2;
            const lo = genreStart[g];
            const hi = genreStart[g + 1];
            const base = lo > 0 ? genreCum[lo - 1] : 0;
            candidate = byGenre[search(genreCum, lo, hi, base + random.next() * (genreCum[hi - 1] - base))];
          }
          if (taken[candidate] !== stamp) {
            a = candidate;
            break;
          }
        }
        if (a < 0) {
          // a user with nearly every artist: the next one not taken
          a = random.below(I);
          while (taken[a] === stamp) a = a + 1 === I ? 0 : a + 1;
        }
        taken[a] = stamp;
        picks[count++] = a;
      }
      for (let j = 0; j < count; j++) {
        const a = picks[j];
        const g = genreOf[a];
        const bonus = g === f0 ? FAVOURITE_BONUS[0] : g === f1 ? FAVOURITE_BONUS[1] : g === f2 ? FAVOURITE_BONUS[2] : 0;
        let p = Math.exp(mu + PLAYS_SD * random.normal() + bonus);
        if (random.next() < PLAYS_BOOST_RATE) p *= Math.min(PLAYS_BOOST_MAX, (1 - random.next()) ** (-1 / 1.1));
        plays[j] = p < 1 ? 1 : Math.round(p);
        spelling[j] = variantStart[a] >= 0 && random.next() < VARIANT_ROW_RATE ? 1 : 0;
      }
      if (caseDuplicate) {
        // one artist again, in upper case; its other row keeps the plain name
        const j = random.below(count);
        spelling[j] = 0;
        picks[count] = picks[j];
        plays[count] = Math.max(1, Math.round(Math.exp(mu - 1 + PLAYS_SD * random.normal())));
        spelling[count++] = 2;
      }
      // most played first (stable; insertion sort for the usual few dozen rows)
      if (count <= 128) {
        for (let j = 0; j < count; j++) {
          const p = plays[j];
          let i = j;
          while (i > 0 && plays[order[i - 1]] < p) {
            order[i] = order[i - 1];
            i--;
          }
          order[i] = j;
        }
      } else {
        for (let j = 0; j < count; j++) order[j] = j;
        order.subarray(0, count).sort((x, y) => plays[y] - plays[x] || x - y);
      }

      let good = false;
      for (let i = 0; i < count; i++) {
        if (at + maxRowBytes > CHUNK_BYTES) await flush();
        const j = order[i];
        const a = picks[j];
        const crlf = random.next() < CRLF_ROW_RATE;
        if (row === nextMalformed) {
          at += buffer.write(malformedRow(random, userId, mbids[a], names[a], plays[j], crlf), at, 'latin1');
          nextMalformed = malformedAt[++malformedIndex];
          malformed++;
          row++;
          continue;
        }
        good = true;
        seenArtist[a] = 1;
        for (let b = 0; b < 40; b++) buffer[at++] = userId[b];
        if (spelling[j] === 2) {
          at += buffer.write(`\t${mbids[a]}\t${names[a].toUpperCase()}\t`, at);
        } else {
          const from = spelling[j] === 1 ? variantStart[a] : segmentStart[a];
          const to = spelling[j] === 1 ? variantEnd[a] : segmentStart[a + 1];
          for (let b = from; b < to; b++) buffer[at++] = segments[b];
        }
        let value = plays[j];
        let length = 0;
        do {
          const rest = Math.floor(value / 10);
          digits[length++] = 48 + value - rest * 10;
          value = rest;
        } while (value > 0);
        while (length > 0) buffer[at++] = digits[--length];
        if (crlf) buffer[at++] = 13;
        buffer[at++] = 10;
        row++;
      }
      if (good) usersWithRows++;
    }
    await flush();
    stream.end();
    await finished(stream);
  } catch (error) {
    stream.destroy();
    throw error;
  }
  if (failure) throw failure;

  let items = 0;
  for (let a = 0; a < I; a++) items += seenArtist[a];
  return {
    out,
    rows: row,
    users: usersWithRows,
    items,
    bytes,
    malformed,
    genres: G,
    seconds: (performance.now() - started) / 1000,
  };
}

/** A row with a missing field or plays that are not a number (user ids and mbids are ASCII). */
function malformedRow(random, userId, mbid, name, plays, crlf) {
  const user = String.fromCharCode(...userId);
  const utf8Name = Buffer.from(name).toString('latin1'); // written back byte for byte
  const end = crlf ? '\r\n' : '\n';
  switch (random.below(5)) {
    case 0:
      return `${user}\t${utf8Name}\t${plays}${end}`; // no mbid field
    case 1:
      return `${user}\t${mbid}\t${utf8Name}${end}`; // no plays field
    case 2:
      return `${user}\t${mbid}\t${utf8Name}\t${end}`; // empty plays
    case 3:
      return `${user}\t${mbid}\t${utf8Name}\t${plays.toLocaleString('en-US')}x${end}`;
    default:
      return `${user}\t${mbid}\t${utf8Name}\tn/a${end}`;
  }
}

// --- the command line --------------------------------------------------------------------------
const HELP = `usage: node scripts/synth.js [options]     (or: npm run synth -- [options])

Writes deterministic synthetic play counts in the Last.fm 360K layout:
  user-sha1 \\t artist-mbid \\t artist-name \\t plays
grouped by user, most played first; Zipf-like artist popularity, log-normal play counts,
artists in genres that users favour, and a few of the real file's quirks (name case
variants, quotes, stray \\r, about 1 malformed row in 100,000).

options:
  --users N       users (default ${FULL_SCALE.users})
  --items N       artists (default ${FULL_SCALE.items})
  --rows N        rows, exactly (default ${FULL_SCALE.rows}); users ≤ rows ≤ users × items
  --seed N        seed of the generator (default ${FULL_SCALE.seed}); same arguments, same bytes
  --out FILE      output file (default synth-<users>x<items>x<rows>-s<seed>.tsv)
  --genres FILE   also write "artist-name \\t genre" lines for every artist
  -h, --help      this help

A one-line summary goes to stderr. Exit codes: 0 ok, 1 cannot write, 2 bad arguments.`;

const NUMBER_OPTIONS = ['users', 'items', 'rows', 'seed'];
const TEXT_OPTIONS = ['out', 'genres'];

/** The options of `argv`; throws SynthUsageError. Returns null for --help. */
export function parseArgs(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') return null;
    const match = /^--([a-z]+)(?:=(.*))?$/s.exec(arg);
    const name = match?.[1];
    if (!match || (!NUMBER_OPTIONS.includes(name) && !TEXT_OPTIONS.includes(name))) {
      throw new SynthUsageError(`unknown ${arg.startsWith('-') ? 'option' : 'argument'} ${JSON.stringify(arg)}`);
    }
    let value = match[2];
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new SynthUsageError(`--${name} needs a value`);
      value = argv[++i];
    }
    if (NUMBER_OPTIONS.includes(name)) {
      if (!/^\d+$/.test(value))
        throw new SynthUsageError(`--${name} must be a whole number, not ${JSON.stringify(value)}`);
      options[name] = Number(value);
    } else {
      if (value === '') throw new SynthUsageError(`--${name} needs a file name`);
      options[name] = value;
    }
  }
  return options;
}

async function cli(argv) {
  let options;
  try {
    options = parseArgs(argv);
    if (options === null) {
      process.stdout.on('error', (error) => {
        if (error.code !== 'EPIPE') throw error; // `synth --help | head` is fine
      });
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    checkShape({ ...FULL_SCALE, ...options });
  } catch (error) {
    if (!(error instanceof SynthUsageError)) throw error;
    process.stderr.write(`synth: ${error.message} (see --help)\n`);
    return 2;
  }
  let summary;
  try {
    summary = await generate(options);
  } catch (error) {
    if (error instanceof SynthUsageError) throw error;
    const file = error.path ?? options.out ?? defaultOutName({ ...FULL_SCALE, ...options });
    process.stderr.write(`synth: cannot write ${file}: ${error.code ?? error.message}\n`);
    return 1;
  }
  const n = (x) => x.toLocaleString('en-US');
  process.stderr.write(
    `synth: ${summary.out}: ${n(summary.rows)} rows, ${n(summary.users)} users, ${n(summary.items)} artists in ${summary.genres} genres, ` +
      `${n(summary.malformed)} malformed, ${n(summary.bytes)} bytes in ${summary.seconds.toFixed(1)} s\n`,
  );
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await cli(process.argv.slice(2));
}
