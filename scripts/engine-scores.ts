/**
 * `npm run engine:scores`: the evidence behind local/engine/score-table.json (issue 13).
 * Runs the embedded engine over every photo shipped in node_modules and transformed
 * copies of them, and prints (Markdown) the impostor scores (different faces within one
 * photo), the genuine scores (a face against itself after a realistic change) and where
 * score 70 sits. Everything is local: images come from node_modules, the engine runs
 * in-process, nothing listens and nothing leaves the machine.
 */
import path from 'node:path';
import { createEngine, FACERES_CROP_SCALE, type RecognitionModel } from '../local/engine/engine.js';
import { faceApiRuleScore } from '../local/engine/make-score-table.js';
import { collectEvidence, findImageFiles, summarise, TRANSFORMS, type Evidence, type Summary } from '../local/engine/score-evidence.js';
import { loadEngineScoreTable } from '../local/engine/score.js';
import { PROJECT_DIR } from '../lib/config.js';
import { scoreForCosine } from '../lambda/shared/score-table.js';
import { cliOrExit } from './cli.js';

const USAGE = `usage: npm run engine:scores -- [--model faceres|face-api] [--crop-scale <x>]

Prints the local engine's score evidence as Markdown: which photos in node_modules were
used (and why others were skipped), impostor pairs (every two faces within one photo:
different people), genuine pairs (each face against itself after: ${TRANSFORMS.map((t) => t.name).join(', ')}),
their cosines and scores, and where score 70 sits. Takes 1-3 minutes on 2 cores.

  --model       recognition net: faceres (the engine's, scored with local/engine/score-table.json; default)
                or face-api (the former 128-d net, scored with its former rule: 70 = face-api distance 0.6)
  --crop-scale  faceres only: crop side as a multiple of the detector box (default ${FACERES_CROP_SCALE})`;

const { values } = cliOrExit(process.argv.slice(2), {
  usage: USAGE,
  options: { model: { type: 'string' }, 'crop-scale': { type: 'string' } },
});
const model = (values.model ?? 'faceres') as RecognitionModel;
if (model !== 'faceres' && model !== 'face-api') {
  process.stderr.write(`--model: must be faceres or face-api, got "${String(values.model).slice(0, 40)}"\n${USAGE}\n`);
  process.exit(2);
}
const cropScale = values['crop-scale'] === undefined ? FACERES_CROP_SCALE : Number(values['crop-scale']);
if (!(cropScale >= 1 && cropScale <= 3)) {
  process.stderr.write(`--crop-scale: must be a number from 1 to 3\n${USAGE}\n`);
  process.exit(2);
}

const table = loadEngineScoreTable();
const score = model === 'faceres' ? (c: number) => scoreForCosine(table, c) : faceApiRuleScore;
const f4 = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(4));
const row = (name: string, s: Summary, fmt: (v: number) => string) =>
  `| ${name} | ${s.count} | ${fmt(s.min)} | ${fmt(s.p5)} | ${fmt(s.p25)} | ${fmt(s.median)} | ${fmt(s.p75)} | ${fmt(s.p95)} | ${fmt(s.max)} |`;
const HEAD = '| pairs | n | min | p5 | p25 | median | p75 | p95 | max |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |';

/** The Markdown report of one evidence run. */
export function report(ev: Evidence, label: string, seventy: string): string {
  const rel = (f: string) => path.relative(path.join(PROJECT_DIR, 'node_modules'), f);
  const lines: string[] = [`## Score evidence: ${label}`, '', '### Photos', '', '| file | used | why |', '| --- | --- | --- |'];
  for (const p of ev.photos) lines.push(`| ${rel(p.file)} | ${p.used ? 'yes' : 'no'} | ${p.reason} |`);
  const impC = ev.impostors.map((p) => p.cosine);
  const genC = ev.genuine.map((p) => p.cosine);
  const impS = ev.impostors.map((p) => score(p.cosine));
  const genS = ev.genuine.map((p) => score(p.cosine));
  const impMax = Math.max(...impC);
  lines.push('', `${ev.faceCount} faces; ${ev.impostors.length} impostor pairs, ${ev.genuine.length} genuine pairs (${ev.unmatched.length} transformed faces not found: ${ev.unmatched.map((u) => `${path.basename(u.photo)} face ${u.face} ${u.transform}`).join(', ') || 'none'}).`);
  lines.push('', '### Cosine', '', HEAD, row('impostor', summarise(impC), f4), row('genuine', summarise(genC), f4));
  for (const t of TRANSFORMS) row(`genuine: ${t.name}`, summarise(ev.genuine.filter((g) => g.transform === t.name).map((g) => g.cosine)), f4);
  for (const t of TRANSFORMS) lines.push(row(`genuine: ${t.name}`, summarise(ev.genuine.filter((g) => g.transform === t.name).map((g) => g.cosine)), f4));
  lines.push('', '### Score', '', HEAD, row('impostor', summarise(impS), String), row('genuine', summarise(genS), String));
  for (const t of TRANSFORMS) lines.push(row(`genuine: ${t.name}`, summarise(ev.genuine.filter((g) => g.transform === t.name).map((g) => score(g.cosine))), String));
  const top = [...ev.impostors].sort((a, b) => b.cosine - a.cosine).slice(0, 3);
  const low = [...ev.genuine].sort((a, b) => a.cosine - b.cosine).slice(0, 3);
  lines.push(
    '',
    `- score 70: ${seventy}; impostor pairs at 70 or more: **${impS.filter((s) => s >= 70).length}** of ${impS.length}; genuine pairs below 70: **${genS.filter((s) => s < 70).length}** of ${genS.length}`,
    `- overlap: genuine pairs at or below the highest impostor cosine (${f4(impMax)}): ${genC.filter((c) => c <= impMax).length}; margin (genuine min - impostor max): ${f4(Math.min(...genC) - impMax)}`,
    `- highest impostors: ${top.map((p) => `${path.basename(p.photo)} faces ${p.a}+${p.b} ${f4(p.cosine)} (${score(p.cosine)})`).join('; ')}`,
    `- lowest genuine: ${low.map((p) => `${path.basename(p.photo)} face ${p.face} ${p.transform} ${f4(p.cosine)} (${score(p.cosine)})`).join('; ')}`,
  );
  return lines.join('\n');
}

const engine = await createEngine({ recognition: model, faceresCropScale: cropScale, maxWaiting: 1 });
await engine.ready;
const started = performance.now();
const files = findImageFiles(path.join(PROJECT_DIR, 'node_modules'));
const embedMs: number[] = [];
let embeddedFaces = 0;
const ev = await collectEvidence(files, async (bytes) => {
  const t0 = performance.now();
  const r = await engine.embed(bytes, 10);
  embedMs.push(performance.now() - t0);
  embeddedFaces += r.faces.length;
  return { faces: r.faces.map((f) => ({ boundingBox: f.face.boundingBox, embedding: f.embedding })), unprocessedFaceCount: r.unprocessedFaceCount };
});
const label =
  model === 'faceres'
    ? `HSE FaceRes (@vladmandic/human), 1024-d, crop ${cropScale}x, scored with local/engine/score-table.json`
    : "face-api's 128-d net, scored with the former rule (70 = face-api distance 0.6)";
const seventy =
  model === 'faceres'
    ? `cosine ${table.boundaries.find((b) => b.score === 70)!.cosine}`
    : 'cosine 0.9144 (face-api distance 0.6 at descriptor norm 1.45)';
console.log(report(ev, label, seventy));
const sorted = [...embedMs].sort((a, b) => a - b);
console.log(
  `\n(${ev.impostors.length + ev.genuine.length} pairs in ${((performance.now() - started) / 1000).toFixed(0)} s; ` +
    `get-face-embeddings in-process: ${embedMs.length} images, median ${sorted[sorted.length >> 1]!.toFixed(0)} ms, ` +
    `${(embedMs.reduce((a, b) => a + b, 0) / Math.max(1, embeddedFaces)).toFixed(0)} ms per face found incl. detection; one run on a shared machine)`,
);
