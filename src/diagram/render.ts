import type { Architecture, Box, Tier } from './architecture.js';
import { layout } from './layout.js';
import { money } from '../format.js';

/** In every picture mastodon-cfn draws: `diagram --out` replaces only a file that holds it. */
export const DIAGRAM_MARK = 'Drawn by mastodon-cfn from the compiled templates';

const BOX_TEXT = { left: 12, title: 22, details: 40, line: 16, cost: 74 };
/** What fits on a line of a box in 12 px sans-serif. */
const LINE_CHARACTERS = 38;
const COLORS: Record<Tier, string> = { internet: '#eef2f7', edge: '#e3f0ff', compute: '#fff1d6', data: '#e6f6ea' };

const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const boxCost = (box: Box) => (box.monthly === undefined ? (box.id === 'Internet' ? '' : 'no cost of its own') : `${money(box.monthly)} a month`);

/**
 * A self-contained SVG: no scripts, no external fonts or images (the generic sans-serif family),
 * and the same bytes for the same templates.
 */
export function toSvg(architecture: Architecture): string {
  const { width, margin, bottom, boxes, routes } = layout(architecture);
  const footerLines = [`Total: ${architecture.total}`, ...architecture.other.map((o) => `${o.label}: ${money(o.monthly)} a month (not drawn as a box)`)];
  const height = bottom + 32 + footerLines.length * 18 + 16;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${xml(architecture.title)}</title>`,
    `<desc>${DIAGRAM_MARK}</desc>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${margin}" y="32" font-size="18" font-weight="bold">${xml(architecture.title)}</text>`,
  ];
  for (const route of routes) {
    parts.push(`<path class="arrow" data-from="${xml(route.from)}" data-to="${xml(route.to)}" d="M ${route.points.map(([x, y]) => `${x} ${y}`).join(' L ')}" fill="none" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/>`);
  }
  // Labels over every arrow, on a white ground: each is read on its own arrow, which it interrupts (the baseline 3.5 px down centres 10 px text on it).
  for (const { from, to, label } of routes) {
    if (!label) continue;
    parts.push(
      `<g class="label" data-from="${xml(from)}" data-to="${xml(to)}"><rect x="${label.x}" y="${label.y}" width="${label.width}" height="${label.height}" fill="#ffffff"/>`,
      `<text x="${label.anchor[0]}" y="${label.anchor[1] + 3.5}" text-anchor="middle" font-size="10" fill="#333">${xml(label.text)}</text></g>`,
    );
  }
  const places = new Map(boxes.map((place) => [place.id, place]));
  for (const box of architecture.boxes) {
    const { x, y, width: boxWidth, height: boxHeight } = places.get(box.id)!;
    // Boxes outside the home region say where they are (the us-east-1 certificate).
    const region = box.tier === 'internet' ? box.region : '';
    parts.push(
      `<g class="box" data-id="${xml(box.id)}">`,
      `<rect x="${x}" y="${y}" width="${boxWidth}" height="${boxHeight}" rx="8" fill="${COLORS[box.tier]}" stroke="#4a5568"/>`,
      `<text x="${x + BOX_TEXT.left}" y="${y + BOX_TEXT.title}" font-weight="bold" font-size="13">${xml(box.title)}${region ? xml(` (${region})`) : ''}</text>`,
      ...box.details.slice(0, 2).map((detail, i) => `<text x="${x + BOX_TEXT.left}" y="${y + BOX_TEXT.details + i * BOX_TEXT.line}" fill="#333">${xml(detail.length > LINE_CHARACTERS ? `${detail.slice(0, LINE_CHARACTERS - 1)}…` : detail)}</text>`),
      ...(boxCost(box) ? [`<text x="${x + BOX_TEXT.left}" y="${y + BOX_TEXT.cost}" fill="#1a4d2e">${xml(boxCost(box))}</text>`] : []),
      '</g>',
    );
  }
  footerLines.forEach((text, i) => parts.push(`<text x="${margin}" y="${bottom + 32 + i * 18}"${i === 0 ? ' font-weight="bold"' : ''}>${xml(text)}</text>`));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** The same picture as a Mermaid flowchart (for READMEs and wikis that render Mermaid). */
export function toMermaid(architecture: Architecture): string {
  const label = (text: string) => text.replace(/"/g, '#quot;');
  const lines = [`%% ${DIAGRAM_MARK}`, 'flowchart LR'];
  for (const box of architecture.boxes) {
    const cost = boxCost(box);
    lines.push(`  ${box.id}["${label([box.title + (box.tier === 'internet' && box.region ? ` (${box.region})` : ''), ...box.details, cost].filter(Boolean).join('<br/>'))}"]`);
  }
  for (const arrow of architecture.arrows) lines.push(`  ${arrow.from} -->${arrow.label ? `|${label(arrow.label)}|` : ''} ${arrow.to}`);
  lines.push(`  %% Total: ${architecture.total}`);
  for (const other of architecture.other) lines.push(`  %% ${other.label}: ${money(other.monthly)} a month`);
  return `${lines.join('\n')}\n`;
}
