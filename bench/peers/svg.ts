/**
 * The chart of bench/peers.bench.ts as an SVG document: one panel per measure, a horizontal bar
 * per subject on a linear scale from zero, aofkit's bars in colour, each labelled with its
 * figure and its ratio to aofkit. Plain string building, no dependency.
 * @module
 */

/** One bar; `value` null draws "n/a" with the reason in the footnotes. */
export interface Bar {
  label: string
  value: number | null
  /** The bar's value over aofkit's in the same panel. */
  ratio?: number
  aofkit?: boolean
  /** A mark after the label pointing to a footnote (`†`, `‡`). */
  mark?: string
}

export interface Panel {
  title: string
  /** Formats a value for its label, e.g. `12.34 M/s`. */
  unit: 'rate' | 'us'
  bars: Bar[]
}

export interface Chart {
  title: string
  subtitle: string
  panels: Panel[]
  footnotes: string[]
}

const COLUMNS = 2
const PANEL_WIDTH = 500
const LABEL = 140
const BAR_MAX = 220
const ROW = 20
const PANEL_HEAD = 30
const MARGIN = 20
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"'

/** Escapes text for an SVG text node or attribute. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function figure(value: number, unit: Panel['unit']): string {
  if (unit === 'us') return `${value < 100 ? value.toFixed(1) : value.toFixed(0)} µs`
  return `${(value / 1e6).toFixed(2)} M/s`
}

function panel(p: Panel, x: number, y: number): string {
  const parts: string[] = []
  parts.push(`<text x="${x}" y="${y + 18}" font-size="14" font-weight="600" ${FONT}>${escapeXml(p.title)}</text>`)
  const max = Math.max(0, ...p.bars.map((bar) => bar.value ?? 0))
  p.bars.forEach((bar, index) => {
    const top = y + PANEL_HEAD + index * ROW
    const label = bar.label + (bar.mark ?? '')
    parts.push(`<text x="${x + LABEL - 6}" y="${top + 13}" font-size="11" text-anchor="end" ${FONT}>${escapeXml(label)}</text>`)
    if (bar.value === null) {
      parts.push(`<text x="${x + LABEL + 4}" y="${top + 13}" font-size="11" fill="#888" ${FONT}>n/a</text>`)
      return
    }
    const width = max > 0 ? Math.max(1, (bar.value / max) * BAR_MAX) : 1
    const colour = bar.aofkit === true ? '#2b6cb0' : '#a0aec0'
    parts.push(`<rect x="${x + LABEL}" y="${top + 2}" width="${width.toFixed(1)}" height="${ROW - 6}" fill="${colour}"/>`)
    const ratio = bar.ratio === undefined ? '' : ` · ${bar.ratio.toFixed(2)}×`
    parts.push(
      `<text x="${(x + LABEL + width + 5).toFixed(1)}" y="${top + 13}" font-size="11" ${FONT}>${escapeXml(figure(bar.value, p.unit) + ratio)}</text>`,
    )
  })
  return parts.join('\n')
}

/** The whole chart. */
export function chartSvg(chart: Chart): string {
  const rows = Math.ceil(chart.panels.length / COLUMNS)
  const heights = Array.from({ length: rows }, (_, row) =>
    Math.max(...chart.panels.slice(row * COLUMNS, row * COLUMNS + COLUMNS).map((p) => PANEL_HEAD + p.bars.length * ROW + 16)),
  )
  const top = 58
  const width = MARGIN * 2 + COLUMNS * PANEL_WIDTH
  const footTop = top + heights.reduce((sum, h) => sum + h, 0)
  const height = footTop + chart.footnotes.length * 16 + MARGIN
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN}" y="26" font-size="17" font-weight="700" ${FONT}>${escapeXml(chart.title)}</text>`,
    `<text x="${MARGIN}" y="45" font-size="11" fill="#555" ${FONT}>${escapeXml(chart.subtitle)}</text>`,
  ]
  let y = top
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < COLUMNS; column++) {
      const p = chart.panels[row * COLUMNS + column]
      if (p !== undefined) parts.push(panel(p, MARGIN + column * PANEL_WIDTH, y))
    }
    y += heights[row]!
  }
  chart.footnotes.forEach((note, index) => {
    parts.push(`<text x="${MARGIN}" y="${footTop + 12 + index * 16}" font-size="11" fill="#555" ${FONT}>${escapeXml(note)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
