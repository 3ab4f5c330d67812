import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ALS_BIN, SAMPLE, tempDir } from '../helpers.js';

const work = tempDir('als-cli-');
const model = join(work, 'model');

function als(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  const result = spawnSync(process.execPath, [ALS_BIN, ...args], { cwd: work, encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** What user2 played in the sample, lower-cased. */
function playedBy(user: string): Set<string> {
  const lines = readFileSync(SAMPLE, 'utf8').split('\n');
  return new Set(lines.filter((l) => l.startsWith(`${user}\t`)).map((l) => l.split('\t')[2].toLowerCase()));
}

function hashDirectory(dir: string): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(dir)
    .filter((n) => n !== '.als')
    .sort())
    hash.update(name).update(readFileSync(join(dir, name)));
  return hash.digest('hex');
}

describe('als end to end on the sample', () => {
  before(() => {
    const trained = als('train', SAMPLE, '--model', model);
    assert.equal(trained.status, 0, trained.stderr);
    assert.match(trained.stdout, /1,892 users × 17,620 items, 92,830 interactions/);
    assert.doesNotMatch(trained.stdout, /\x1b\[/, 'no colour when piped');
  });

  it('similar --json: 10 other artists, scores in 0..1, best first', () => {
    const result = als('similar', 'jay-z', '--json', '--model', model);
    assert.equal(result.status, 0, result.stderr);
    const parsed = JSON.parse(result.stdout);
    assert.equal(parsed.item, 'Jay-Z');
    assert.equal(parsed.similar.length, 10);
    assert.ok(
      parsed.similar.every((s: { item: string; score: number }) => s.item !== 'Jay-Z' && s.score >= 0 && s.score <= 1),
    );
    assert.equal(parsed.similar[0].score, 1);
    const scores = parsed.similar.map((s: { score: number }) => s.score);
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => b - a),
    );
    // the neighbours of Jay-Z with the default settings are hip-hop and R&B
    const hipHop = new Set([
      'Kanye West',
      'Eminem',
      '50 Cent',
      'T.I.',
      'Ludacris',
      '2Pac',
      'Snoop Dogg',
      'Nas',
      'Young Money',
      "Lil' Wayne",
      'Royce da 5\'9"',
      'Bow Wow',
      'T-Pain',
      'Flo Rida',
      'Usher',
      'Timbaland',
      'Ciara',
      'Drake',
      'Rihanna',
      'Akon',
      'Nicki Minaj',
      'Chris Brown',
      'Ne-Yo',
      'Beyoncé',
      'Busta Rhymes',
      'Dr. Dre',
      'The Game',
      'Missy Elliott',
      'Nelly',
      'Notorious B.I.G.',
      'DMX',
      'Xzibit',
      'Method Man',
      'OutKast',
      'Lupe Fiasco',
      'Kid Cudi',
      'B.o.B',
      'Wiz Khalifa',
      'Lil Jon',
    ]);
    const count = parsed.similar.filter((s: { item: string }) => hipHop.has(s.item)).length;
    assert.ok(count >= 6, `${count} hip-hop/R&B neighbours: ${result.stdout}`);
  });

  it('similar prints a readable list', () => {
    const result = als('similar', 'RADIOHEAD', '-n', '3', '--model', model);
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines[0], 'Similar to Radiohead');
    assert.equal(lines.length, 5);
    assert.match(lines[4], /^ {5}\(13,005 artists with fewer than 3 listeners left out/);
    assert.match(lines[1], /^ {2}1\. .+ {2}1\.000 /);
  });

  it('recommend --json: 10 artists user2 never played', () => {
    const result = als('recommend', '--user', 'user2', '--json', '--model', model);
    assert.equal(result.status, 0, result.stderr);
    const parsed = JSON.parse(result.stdout);
    assert.equal(parsed.user, 'user2');
    assert.equal(parsed.recommendations.length, 10);
    const played = playedBy('user2');
    assert.equal(played.size, 50);
    for (const r of parsed.recommendations) {
      assert.ok(!played.has(r.item.toLowerCase()), `${r.item} was played`);
      assert.ok(r.score >= 0 && r.score <= 1);
    }
  });

  it('--json gives raw, the unscaled score: the cosine for similar, xᵤᵀyᵢ for recommend (from the factor files)', () => {
    const manifest = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8'));
    const f: number = manifest.factors;
    const floats = (name: string) => {
      const bytes = readFileSync(join(model, name));
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    };
    const [X, Y] = [floats('user_factors.f32'), floats('item_factors.f32')];
    const names: string[] = JSON.parse(readFileSync(join(model, 'item_names.json'), 'utf8'));
    const users: string[] = JSON.parse(readFileSync(join(model, 'user_ids.json'), 'utf8'));
    const dot = (a: Float32Array, i: number, b: Float32Array, j: number) => {
      let sum = 0;
      for (let d = 0; d < f; d++) sum += a[i * f + d] * b[j * f + d];
      return sum;
    };
    const similar = JSON.parse(als('similar', 'jay-z', '--json', '-n', '5', '--model', model).stdout);
    const jayZ = names.indexOf('Jay-Z');
    for (const s of similar.similar) {
      const i = names.indexOf(s.item);
      const cosine = dot(Y, jayZ, Y, i) / Math.sqrt(dot(Y, jayZ, Y, jayZ) * dot(Y, i, Y, i));
      assert.ok(Math.abs(s.raw - cosine) < 1e-5, `${s.item}: raw ${s.raw}, cosine ${cosine}`);
    }
    const recommend = JSON.parse(als('recommend', '--user', 'user2', '--json', '-n', '5', '--model', model).stdout);
    const u = users.indexOf('user2');
    for (const r of recommend.recommendations) {
      const score = dot(X, u, Y, names.indexOf(r.item));
      assert.ok(
        Math.abs(r.raw - score) < 1e-4 * Math.max(1, Math.abs(score)),
        `${r.item}: raw ${r.raw}, xᵤᵀyᵢ ${score}`,
      );
    }
    assert.ok(recommend.recommendations[0].raw > recommend.recommendations[4].raw);
  });

  it('recommend shows the most played artists above the list; --include-played can list them', () => {
    const text = als('recommend', '--user', 'user2', '--model', model);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /Most played by user2\n\s+Duran Duran \(13,883\), Morcheeba \(11,690\)/);
    const withPlayed = JSON.parse(
      als('recommend', '--row', '0', '--include-played', '--json', '-n', '50', '--model', model).stdout,
    );
    assert.equal(withPlayed.user, 'user2', 'a number that is no id is the row');
    const played = playedBy('user2');
    assert.ok(withPlayed.recommendations.some((r: { item: string }) => played.has(r.item.toLowerCase())));
  });

  it('recommend --all writes 10 lines for every user, best first, nothing played', () => {
    const output = join(work, 'recs.tsv');
    const result = als('recommend', '--all', '--output', output, '--model', model);
    assert.equal(result.status, 0, result.stderr);
    const lines = readFileSync(output, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 1892 * 10);
    const perUser = new Map<string, { item: string; score: number }[]>();
    for (const line of lines) {
      const [user, item, score] = line.split('\t');
      if (!perUser.has(user)) perUser.set(user, []);
      perUser.get(user)!.push({ item, score: Number(score) });
    }
    assert.equal(perUser.size, 1892);
    for (const recs of perUser.values()) {
      assert.equal(recs.length, 10);
      for (let k = 1; k < 10; k++) assert.ok(recs[k].score <= recs[k - 1].score);
    }
    const played = playedBy('user2');
    assert.ok(perUser.get('user2')!.every((r) => !played.has(r.item.toLowerCase())));
  });

  it('recommend --all --pruned lists the same artists in the same order, scores on the bound scale', () => {
    const exact = join(work, 'recs.tsv');
    if (!existsSync(exact)) assert.equal(als('recommend', '--all', '--output', exact, '--model', model).status, 0);
    const output = join(work, 'recs-pruned.tsv');
    const result = als('recommend', '--all', '--pruned', '--output', output, '--model', model, '--json');
    assert.equal(result.status, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.equal(summary.search, 'pruned');
    assert.equal(summary.lines, 18920);
    const pairs = (path: string) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .map((line) => line.split('\t').slice(0, 2).join('\t'));
    assert.deepEqual(pairs(output), pairs(exact));
    for (const line of readFileSync(output, 'utf8').trimEnd().split('\n'))
      assert.match(line, /^[^\t]+\t[^\t]+\t[01]\.\d{6}$/);
    assert.equal(
      JSON.parse(als('recommend', '--all', '--output', join(work, 'e.tsv'), '--model', model, '--json').stdout).search,
      'exact',
    );
    const alone = als('recommend', '--user', 'user2', '--pruned', '--model', model);
    assert.equal(alone.status, 2);
    assert.match(alone.stderr, /--pruned goes with --all/);
    assert.match(als('recommend', '--help').stdout, /--pruned/);
  });

  it('stops quietly when the reader of its output goes away (| head -1)', () => {
    const result = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${ALS_BIN}" recommend --user user2 -n 5000 --include-played --model "${model}" | head -1`,
      ],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(result.stdout, 'Most played by user2\n');
    assert.equal(result.stderr, '');
  });

  it('gives the same model bytes for the same input, options and seed', () => {
    const a = join(work, 'same-a');
    const b = join(work, 'same-b');
    for (const target of [a, b])
      assert.equal(als('train', SAMPLE, '--iterations', '2', '--factors', '8', '--model', target).status, 0);
    for (const name of readdirSync(a).filter((n) => n !== 'timings.json' && n !== '.als')) {
      assert.deepEqual(readFileSync(join(a, name)), readFileSync(join(b, name)), name);
    }
  });

  it('trains with the exact solver and shows the loss going down', () => {
    const result = als(
      'train',
      SAMPLE,
      '--solver',
      'naive',
      '--iterations',
      '3',
      '--factors',
      '8',
      '--loss',
      '--json',
      '--model',
      join(work, 'naive'),
    );
    assert.equal(result.status, 0, result.stderr);
    const losses: number[] = JSON.parse(result.stdout).losses;
    assert.equal(losses.length, 3);
    assert.ok(losses[1] <= losses[0] && losses[2] <= losses[1], String(losses));
  });
});

describe('als on bad input', () => {
  const existing = join(work, 'existing');
  let existingHash: string;
  const files = {
    empty: join(work, 'empty.tsv'),
    random: join(work, 'random.bin'),
    malformed: join(work, 'malformed.tsv'),
    good: join(work, 'good.tsv'),
  };

  const cases: { name: string; args: () => string[]; status: number; message: RegExp }[] = [
    {
      name: 'a missing file',
      args: () => ['train', join(work, 'nope.tsv')],
      status: 3,
      message: /nope\.tsv: no such file/,
    },
    { name: 'an empty file', args: () => ['train', files.empty], status: 3, message: /empty\.tsv: the file is empty/ },
    {
      name: 'a file of random bytes',
      args: () => ['train', files.random],
      status: 3,
      message: /random\.bin: no usable row/,
    },
    {
      name: 'a file of malformed rows',
      args: () => ['train', files.malformed],
      status: 3,
      message: /malformed\.tsv: no usable row \(3 rows, 3 malformed at lines 1, 2, 3/,
    },
    {
      name: 'a bad row under --strict',
      args: () => ['train', files.good, '--strict'],
      status: 3,
      message: /good\.tsv, line 3: field 4 \(count\) is "many"/,
    },
    {
      name: '--factors 0',
      args: () => ['train', files.good, '--factors', '0'],
      status: 2,
      message: /factors must be a whole number from 1 to 1024, not 0/,
    },
    {
      name: '--factors abc',
      args: () => ['train', files.good, '--factors', 'abc'],
      status: 2,
      message: /'--factors <n>' argument 'abc' is invalid/,
    },
    {
      name: '--alpha -1',
      args: () => ['train', files.good, '--alpha', '-1'],
      status: 2,
      message: /alpha must be a number from 0 to 1e6, not -1/,
    },
    {
      name: 'an unknown solver',
      args: () => ['train', files.good, '--solver', 'sgd'],
      status: 2,
      message: /argument 'sgd' is invalid\. Allowed choices are cg, naive/,
    },
    {
      name: 'an unknown option',
      args: () => ['train', files.good, '--fast'],
      status: 2,
      message: /unknown option '--fast'/,
    },
    {
      name: 'an unknown user',
      args: () => ['recommend', '--user', 'nobody'],
      status: 5,
      message: /no user "nobody" in the model/,
    },
    { name: 'no user at all', args: () => ['recommend'], status: 2, message: /which user\?/ },
    {
      name: 'an unknown artist',
      args: () => ['similar', 'radiohed'],
      status: 5,
      message: /no artist or item named "radiohed" in the model; did you mean "Radiohead"/,
    },
    { name: '-n 0', args: () => ['similar', 'radiohead', '-n', '0'], status: 2, message: /--count must be at least 1/ },
  ];

  before(() => {
    writeFileSync(files.empty, '');
    const random = Buffer.alloc(20_000);
    for (let n = 0; n < random.length; n++) random[n] = (n * 7919 + 13) % 251;
    writeFileSync(files.random, random);
    writeFileSync(files.malformed, 'just one field\nuser\tonly two\nu\t\tartist\t-5\n');
    writeFileSync(files.good, 'u1\t\tRadiohead\t10\nu2\t\tRadiohead\t3\nu2\t\tMuse\tmany\nu3\t\tMuse\t4\n');
    const trained = als('train', SAMPLE, '--iterations', '1', '--factors', '4', '--model', existing);
    assert.equal(trained.status, 0, trained.stderr);
    existingHash = hashDirectory(existing);
  });

  for (const c of cases) {
    it(`${c.name}: one line, exit ${c.status}, the model unchanged`, () => {
      const result = als(...c.args(), '--model', existing);
      assert.equal(result.status, c.status, result.stderr);
      const lines = result.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0], /^als: /);
      assert.match(lines[0], c.message);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(hashDirectory(existing), existingHash);
    });
  }

  it('a missing model: exit 4', () => {
    const result = als('similar', 'muse', '--model', join(work, 'no-model'));
    assert.equal(result.status, 4);
    assert.match(result.stderr, /^als: no model in .*no-model \(train one with: als train FILE --model/);
  });

  it('a corrupt model: exit 4, one line', () => {
    const corrupt = join(work, 'corrupt');
    cpSync(existing, corrupt, { recursive: true, verbatimSymlinks: true });
    const path = join(corrupt, 'item_factors.f32');
    const raw = readFileSync(path);
    raw[3] ^= 0xff;
    writeFileSync(path, raw);
    const result = als('similar', 'muse', '--model', corrupt);
    assert.equal(result.status, 4);
    assert.equal(
      result.stderr,
      `als: ${corrupt}: item_factors.f32 fails its checksum (the model is corrupt or incomplete; train it again)\n`,
    );
  });

  it('skipped rows are reported with their line numbers, and training goes on', () => {
    const result = als('train', files.good, '--factors', '2', '--iterations', '1', '--model', join(work, 'partial'));
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stderr,
      /skipped 1 malformed row \(line 3: field 4 \(count\) is "many", not a non-negative number\)/,
    );
    assert.match(result.stdout, /4 rows, 1 skipped/);
  });

  it('--debug shows the stack of an error', () => {
    const result = als('train', join(work, 'nope.tsv'), '--debug');
    assert.equal(result.status, 3);
    assert.match(result.stderr, /\n\s+at /);
  });
});
