#!/usr/bin/env node
// Converts the HetRec 2011 Last.fm 2K dataset (user_artists.dat + artists.dat) into the
// Last.fm 360K layout that `als train` reads by default:
//   user \t artist-mbid \t artist-name \t plays
// HetRec has no MusicBrainz ids, so the mbid column is left empty. Users become "user<ID>".
//
// usage: node scripts/convert-hetrec.js [SOURCE_DIR] [OUT_FILE]
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const sourceDir = resolve(process.argv[2] ?? join(here, '../../shared/datasets/hetrec2011-lastfm-2k'));
const outFile = resolve(process.argv[3] ?? join(here, '../data/lastfm-2k.tsv'));

/** Splits a HetRec .dat file into rows of fields, dropping the header and the CRLF line ends. */
function readDat(name) {
  let text;
  try {
    text = readFileSync(join(sourceDir, name), 'utf8');
  } catch (error) {
    console.error(
      `convert-hetrec: cannot read ${join(sourceDir, name)} (${error.code ?? error.message}); usage: node scripts/convert-hetrec.js SOURCE_DIR [OUT_FILE]`,
    );
    process.exit(1);
  }
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  return lines
    .slice(1)
    .filter((line) => line.length > 0)
    .map((line) => line.split('\t'));
}

const artistName = new Map();
for (const [id, name] of readDat('artists.dat')) artistName.set(id, name);

const out = [];
let missing = 0;
for (const [user, artist, weight] of readDat('user_artists.dat')) {
  const name = artistName.get(artist);
  if (name === undefined) {
    missing++;
    continue;
  }
  out.push(`user${user}\t\t${name}\t${weight}\n`);
}
if (missing > 0) console.error(`warning: ${missing} rows name an artist id that artists.dat lacks`);
writeFileSync(outFile, out.join(''));
console.error(`wrote ${out.length} rows to ${outFile}`);
