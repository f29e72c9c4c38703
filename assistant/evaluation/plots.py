"""Small self-contained SVG charts (grouped bars, histograms) for the HTML report; no plotting library needed."""

from __future__ import annotations

from html import escape

from assistant.evaluation.metrics import percentile

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1")
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def bar_chart(
    title: str, groups: list[str], series: dict[str, list[float | None]], max_value: float = 1.0, width: int = 760
) -> str:
    """Horizontal grouped bars: one group per label, one bar per series; None values are left out."""
    label_w, bar_h, gap, top = 190, 13, 10, 48
    plot_w = width - label_w - 60
    names = list(series)
    group_h = bar_h * len(names) + gap
    height = top + group_h * len(groups) + 24
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="16" {_FONT} font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    x = label_w
    for i, name in enumerate(names):  # legend
        colour = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="26" width="11" height="11" fill="{colour}"/>')
        out.append(f'<text x="{x + 15}" y="36" {_FONT}>{escape(name)}</text>')
        x += 22 + 7 * len(name)
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        tx = label_w + plot_w * tick
        out.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{height - 20}" stroke="#ddd"/>')
        out.append(f'<text x="{tx:.1f}" y="{height - 6}" {_FONT} text-anchor="middle">{tick * max_value:g}</text>')
    for g, group in enumerate(groups):
        y0 = top + g * group_h
        out.append(
            f'<text x="{label_w - 8}" y="{y0 + (group_h - gap) / 2 + 4:.1f}" {_FONT} text-anchor="end">'
            f"{escape(group[:30])}</text>"
        )
        for i, name in enumerate(names):
            value = series[name][g]
            if value is None:
                continue
            y = y0 + i * bar_h
            w = plot_w * max(0.0, min(value / max_value, 1.0))
            colour = PALETTE[i % len(PALETTE)]
            out.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{colour}">'
                f"<title>{escape(group)} — {escape(name)}: {value:.3f}</title></rect>"
            )
            out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}" {_FONT} font-size="10">{value:.2f}</text>')
    out.append("</svg>")
    return "\n".join(out)


def histograms(title: str, samples: dict[str, list[float]], unit: str = "ms", bins: int = 20) -> str:
    """One histogram per named sample, side by side, each with its p50 and p95 marked."""
    panel_w, panel_h, top = 250, 150, 30
    width = panel_w * max(1, len(samples))
    height = top + panel_h + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="16" {_FONT} font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for p, (name, values) in enumerate(samples.items()):
        x0, inner_w = p * panel_w + 10, panel_w - 30
        base = top + panel_h
        out.append(f'<text x="{x0}" y="{top + 10}" {_FONT} font-weight="bold">{escape(name)}</text>')
        out.append(f'<line x1="{x0}" y1="{base}" x2="{x0 + inner_w}" y2="{base}" stroke="#888"/>')
        if not values:
            out.append(f'<text x="{x0}" y="{base - 20}" {_FONT}>no data</text>')
            continue
        low, high = 0.0, max(values) * 1.05 or 1.0
        counts = [0] * bins
        for v in values:
            counts[min(bins - 1, int((v - low) / (high - low) * bins))] += 1
        tallest = max(counts)
        bar_w = inner_w / bins
        for b, count in enumerate(counts):
            if count:
                h = (panel_h - 30) * count / tallest
                out.append(
                    f'<rect x="{x0 + b * bar_w:.1f}" y="{base - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[p % len(PALETTE)]}"><title>{count} questions, '
                    f"{low + b * (high - low) / bins:.0f}–{low + (b + 1) * (high - low) / bins:.0f} {unit}"
                    "</title></rect>"
                )
        for q, dash in ((50, "4 2"), (95, "1 2")):
            value = percentile(values, q)
            assert value is not None  # values is not empty here
            mx = x0 + inner_w * (value - low) / (high - low)
            out.append(
                f'<line x1="{mx:.1f}" y1="{top + 16}" x2="{mx:.1f}" y2="{base}" stroke="#333" '
                f'stroke-dasharray="{dash}"/>'
            )
            # Labels near the right edge go left of their line, so they stay inside the panel.
            anchor, tx = ("end", mx - 2) if mx > x0 + inner_w * 0.7 else ("start", mx + 2)
            out.append(
                f'<text x="{tx:.1f}" y="{top + 26 + (q == 95) * 12}" {_FONT} font-size="10" '
                f'text-anchor="{anchor}">p{q} {value:.0f}</text>'
            )
        out.append(f'<text x="{x0}" y="{base + 14}" {_FONT} font-size="10">0</text>')
        out.append(
            f'<text x="{x0 + inner_w}" y="{base + 14}" {_FONT} font-size="10" text-anchor="end">'
            f"{high:.0f} {unit}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)
