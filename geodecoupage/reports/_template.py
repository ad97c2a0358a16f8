"""The audit report's page skeleton and stylesheet (plain strings, no Jinja)."""

from __future__ import annotations

from geodecoupage.maps.html import TABLE_CSS

__all__ = ["PAGE", "REPORT_CSS"]

REPORT_CSS = (
    """
:root { --ink: #1d1d1f; --muted: #5f6368; --rule: #dadce0; --accent: #0072B2; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header.gd-head { background: #0b3d63; color: #fff; padding: 24px 32px 18px; }
header.gd-head h1 { margin: 0 0 6px; font-size: 26px; }
header.gd-head p { margin: 0; opacity: 0.9; }
nav.gd-toc { padding: 10px 32px; border-bottom: 1px solid var(--rule);
  position: sticky; top: 0; background: #fff; z-index: 10; font-size: 14px; }
nav.gd-toc a { margin-right: 16px; color: var(--accent); text-decoration: none; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 32px 48px; }
section { margin: 28px 0; }
section h2 { border-bottom: 2px solid var(--accent); padding-bottom: 4px; }
.gd-findings li { margin: 6px 0; }
.gd-kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.gd-kpi { border: 1px solid var(--rule); border-radius: 6px; padding: 8px 14px;
  min-width: 150px; }
.gd-kpi b { display: block; font-size: 22px; }
.gd-kpi span { color: var(--muted); font-size: 13px; }
.gd-note { color: var(--muted); font-size: 13px; }
figure { margin: 16px 0; }
figure svg, figure img { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; }
iframe.gd-map { width: 100%; height: 620px; border: 1px solid var(--rule);
  border-radius: 4px; }
.gd-scroll { overflow-x: auto; }
table.gd-table td.gd-text { max-width: 46em; }
footer { color: var(--muted); font-size: 12px; border-top: 1px solid var(--rule);
  padding: 12px 32px; }
@media print { nav.gd-toc { display: none; } iframe.gd-map { height: 480px; } }
"""
    + TABLE_CSS
)

PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="geodecoupage {version}">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header class="gd-head"><h1>{title}</h1><p>{subtitle}</p></header>
<nav class="gd-toc">{toc}</nav>
<main>
{sections}
</main>
<footer>{footer}</footer>
</body>
</html>
"""
