/**
 * The output of bench/peers.bench.ts for fixed figures: its SVG chart and its markdown table.
 * The benchmark itself is not run here (it needs the packages of bench/package.json and
 * redis-server); what it prints from its figures is.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'

import type { Peer } from '../../bench/peers/common.ts'
import { peersMarkdown, type Result } from '../../bench/peers/report.ts'
import { chartSvg, type Chart } from '../../bench/peers/svg.ts'

const chart: Chart = {
  title: 'Peers & <aofkit>',
  subtitle: 'records/s',
  panels: [
    {
      title: 'Appends',
      unit: 'rate',
      bars: [
        { label: 'aofkit write()', value: 20e6, ratio: 1, aofkit: true },
        { label: 'lmdb', value: 5e6, ratio: 0.25 },
        { label: 'hypercore', value: null },
      ],
    },
    { title: 'p50', unit: 'us', bars: [{ label: 'Redis', value: 250, ratio: 4, mark: ' †' }] },
  ],
  footnotes: ['† not durable per write'],
}

test('the chart is one SVG document, its text escaped, its bars to scale, a missing figure drawn as n/a', () => {
  const svg = chartSvg(chart)
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+" viewBox="0 0 \d+ \d+">\n/)
  assert.ok(svg.endsWith('</svg>\n'))
  assert.equal(svg.match(/<svg/g)?.length, 1)
  assert.ok(svg.includes('Peers &amp; &lt;aofkit&gt;'))
  assert.doesNotMatch(svg, /<aofkit>/)
  const widths = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((match) => Number(match[1]))
  // The largest bar of a panel spans the full width (220), the others in proportion.
  assert.deepEqual(widths, [220, 55, 220])
  assert.ok(svg.includes('20.00 M/s · 1.00×'))
  assert.ok(svg.includes('5.00 M/s · 0.25×'))
  assert.ok(svg.includes('250 µs · 4.00×'))
  assert.ok(svg.includes('>n/a</text>'))
  assert.ok(svg.includes('Redis †'))
  assert.ok(svg.includes('† not durable per write'))
  assert.ok(svg.includes('fill="#2b6cb0"'), 'aofkit in colour')
})

test('the table gives each figure with its ratio to the first aofkit row that has one in its column', () => {
  const peer = (name: string, aofkit = false): Peer => ({ name, label: name, trials: {}, ...(aofkit ? { aofkit } : {}) })
  const rows: { peer: Peer; result: Result }[] = [
    { peer: peer('aofkit write()', true), result: { rates: { append: 20e6 }, allRates: {}, latency: { p50: 20, p99: 100, runs: [] } } },
    { peer: peer('aofkit LogWriter', true), result: { rates: { append: 10e6, read: 8e6 }, allRates: { append: [9e6, 10e6, 12e6] } } },
    { peer: { ...peer('lmdb'), readChecks: 'none' }, result: { rates: { append: 5e6, read: 2e6 }, allRates: {} } },
  ]
  const text = peersMarkdown(rows, { command: 'npm run bench:peers', machine: 'a machine', versions: 'lmdb 3.5.6', reps: 3, samples: 2000, warmup: 100, skipped: ['Redis: not installed'] })
  const lines = text.split('\n')
  assert.ok(lines.includes('| **aofkit write()** | 20.00 M/s (1.00×) | — | — | — | 20.0 (1.00×) | 100 (1.00×) |'))
  assert.ok(lines.includes('| **aofkit LogWriter** | 10.00 M/s (0.50×) | — | — | 8.00 M/s (1.00×) | — | — |'))
  assert.ok(lines.includes('| lmdb | 5.00 M/s (0.25×) | — | — | 2.00 M/s (0.25×) | — | — |'))
  assert.ok(lines.includes('- lmdb: read checks: none.'))
  assert.ok(lines.includes('| aofkit LogWriter | 1.33× | — | — | — | — | — |'), 'the spread: fastest run over slowest')
  assert.ok(lines.includes('- Redis: not installed.'))
  assert.ok(lines.includes('Compared: lmdb 3.5.6.'))
})
