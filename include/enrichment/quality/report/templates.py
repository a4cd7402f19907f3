"""Jinja2 templates of the analysts' report (one run) and of the index of all reports.

Self-contained HTML: inline CSS and SVG, no script, no external request.
"""

from __future__ import annotations

STYLE = """
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,sans-serif;color:#223;background:#f4f6f9}header{background:#1f3b5c;color:#fff;
padding:18px 28px}header h1{margin:0 0 4px;font-size:21px}header .sub{opacity:.85}
header a{color:#cfe3ff}main{padding:18px 28px;max-width:1280px}section{background:#fff;
border-radius:8px;padding:14px 18px;margin:0 0 16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:17px;margin:0 0 4px}p.lead{margin:0 0 10px;color:#556}.verdict{display:inline-block;
padding:3px 12px;border-radius:14px;font-weight:700;margin-left:8px;font-size:14px}
.pass{background:#dff3e4;color:#1d6b35}.fail{background:#fbe1de;color:#a3261a}
.warn{background:#fff1d1;color:#8a5a00}.skipped{background:#eceff3;color:#556}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(165px,1fr));gap:10px}
.tile{background:#fff;border-radius:8px;padding:10px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.tile .v{font-size:22px;font-weight:700}.tile .k{color:#556;font-size:12px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 8px;
border-bottom:1px solid #e3e7ed;vertical-align:top}th{font-size:12px;color:#556;
font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(370px,1fr));gap:14px}
.card h3{font-size:14px;margin:6px 0}.small{font-size:12px;color:#667}
.failbox{border-left:5px solid #c0392b}.cov td.cell{text-align:center;font-variant-numeric:
tabular-nums}code{background:#eef1f5;padding:0 4px;border-radius:3px}
"""

REPORT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Quality report - {{ run.run_id }}</title><style>{{ style }}</style></head>
<body>
<header>
  <h1>Catalogue quality report
    <span class="verdict {{ 'pass' if passed else 'fail' }}">{{ 'PASSED' if passed else 'FAILED' }}</span></h1>
  <div class="sub">Run <b>{{ run.run_id }}</b> ({{ run.kind }}) · catalogue changes
    {{ run.lower or 'from the beginning' }} → {{ run.upper }} · checked {{ checked_at }}</div>
  <div class="sub">{% if data_docs %}<a href="{{ data_docs }}">Great Expectations Data Docs</a> · {% endif %}
    <a href="../index.html">All reports</a> · <a href="report.json">Data (JSON)</a></div>
</header>
<main>
<section>
  <h2>Key numbers</h2>
  <p class="lead">{{ counts.checks }} checks: {{ counts.passed }} passed, {{ counts.failed }} failed,
    {{ counts.warnings }} warnings, {{ counts.skipped }} not applicable.</p>
  <div class="tiles">
  {% for t in tiles %}<div class="tile"><div class="v" data-key="{{ t.key }}">{{ t.value }}</div>
    <div class="k">{{ t.label }}</div></div>{% endfor %}
  </div>
</section>
{% if failures %}
<section class="failbox">
  <h2>What needs attention</h2>
  <table><tr><th>Check</th><th>Meaning</th><th class="num">Observed</th><th class="num">Threshold</th></tr>
  {% for c in failures %}<tr><td><span class="pill {{ c.outcome }}">{{ c.outcome }}</span> {{ c.name }}</td>
    <td>{{ c.description }}</td><td class="num">{{ c.observed_text }}</td>
    <td class="num">{{ c.threshold_text }}</td></tr>{% endfor %}
  </table>
</section>
{% endif %}
<section>
  <h2>All checks</h2>
  <p class="lead">Each check compares an observed value with its threshold. Thresholds are set in
    <code>quality.yaml</code> or <code>ENRICHMENT_QUALITY_*</code> variables.</p>
  <table id="checks"><tr><th>Check</th><th>What it measures</th><th class="num">Observed</th>
    <th class="num">Threshold</th><th>Result</th></tr>
  {% for group in groups %}<tr><th colspan="5">{{ group.title }} <span class="small">- {{ group.help }}</span></th></tr>
  {% for c in group.checks %}<tr data-check="{{ c.name }}"><td>{{ c.name }}</td><td>{{ c.description }}</td>
    <td class="num">{{ c.observed_text }}</td><td class="num">{{ c.threshold_text }}</td>
    <td><span class="pill {{ c.outcome }}">{{ c.outcome }}</span></td></tr>{% endfor %}{% endfor %}
  </table>
</section>
<section>
  <h2>Coverage by category and attribute</h2>
  <p class="lead">Share of active products that carry a tag of each attribute, by the product's
    tagged category. "-" means the attribute does not apply to that category.</p>
  <table class="cov"><tr><th>Category</th><th class="num">Products</th>
    {% for a in coverage.attributes %}<th class="num">{{ a }}</th>{% endfor %}</tr>
  {% for row in coverage.rows %}<tr><td>{{ row.category }}</td><td class="num">{{ row.products }}</td>
    {% for cell in row.cells %}{% if cell %}<td class="cell" style="background:{{ cell.bg }}"
      title="{{ cell.tagged }} of {{ cell.applicable }}">{{ cell.text }}</td>{% else %}<td class="cell">-</td>{% endif %}{% endfor %}</tr>
  {% endfor %}</table>
</section>
<section>
  <h2>Tag value distributions</h2>
  <p class="lead">Products per value among active products; the dark tick marks the previous
    run{% if previous_run %} ({{ previous_run }}){% endif %}. Drift is the population stability index (PSI)
    against that run: below 0.1 stable, 0.1-0.25 moderate, above {{ max_psi }} flagged.</p>
  <div class="grid">{% for d in distributions %}<div class="card"><h3>{{ d.attribute }}
    {% if d.psi is not none %}<span class="pill {{ 'fail' if d.flagged else 'pass' }}">PSI {{ '%.3f'|format(d.psi) }}</span>{% endif %}</h3>
    {{ d.svg }}{% if d.more %}<div class="small">+ {{ d.more }} more values</div>{% endif %}</div>{% endfor %}</div>
</section>
<section>
  <h2>Confidence of emitted tags</h2>
  <p class="lead">How sure the tagger was, per attribute (number of tags per confidence band).</p>
  <div class="grid">{% for h in histograms %}<div class="card"><h3>{{ h.attribute }}</h3>{{ h.svg }}</div>{% endfor %}</div>
</section>
<section>
  <h2>Quarantined images</h2>
  <p class="lead">{{ quarantine_line }}</p>
  {% if quarantine %}<table id="quarantine"><tr><th>Reason</th><th class="num">Images</th><th>Sample SKUs</th><th>Example</th></tr>
  {% for q in quarantine %}<tr><td>{{ q.reason }}</td><td class="num">{{ q.count }}</td>
    <td>{{ q.samples|join(', ') }}</td><td class="small">{{ q.example }}</td></tr>{% endfor %}</table>{% endif %}
</section>
<section>
  <h2>Accuracy on the golden sample</h2>
  {% if accuracy %}<p class="lead">Precision = emitted tags that match the hand-labelled value
    ({{ golden }}).</p>
  <table><tr><th>Attribute</th><th class="num">Emitted tags</th><th class="num">Correct</th>
    <th class="num">Precision</th><th class="num">Threshold</th></tr>
  {% for a in accuracy %}<tr><td>{{ a.attribute }}</td><td class="num">{{ a.emitted }}</td>
    <td class="num">{{ a.correct }}</td><td class="num">{{ a.precision }}</td>
    <td class="num">{{ a.threshold }}</td></tr>{% endfor %}</table>
  {% else %}<p class="lead">No golden sample is configured (ENRICHMENT_QUALITY_GOLDEN).</p>{% endif %}
</section>
<section>
  <h2>Freshness and store consistency</h2>
  <p class="lead">{{ freshness_line }}</p>
  {% if stale %}<table><tr><th>Stale SKU</th><th>Pending change</th><th>Changed at</th></tr>
  {% for s in stale %}<tr><td>{{ s.sku }}</td><td>{{ s.change }}</td><td>{{ s.updated_at }}</td></tr>{% endfor %}</table>{% endif %}
  <table><tr><th>Store</th><th>Backend</th><th class="num">Expected SKUs</th><th class="num">Held</th></tr>
  {% for s in store_counts %}<tr><td>{{ s.store }}</td><td>{{ s.backend }}</td><td class="num">{{ s.expected }}</td>
    <td class="num">{{ s.actual }}</td></tr>{% endfor %}</table>
  {% for n in notes %}<p class="small">{{ n }}</p>{% endfor %}
</section>
<section>
  <h2>Trend over the last runs</h2>
  <p class="lead">Oldest on the left; the dashed red line is the threshold.</p>
  <div class="grid">{% for t in trends %}<div class="card"><h3>{{ t.title }}</h3>{{ t.svg }}</div>{% endfor %}</div>
</section>
<p class="small">Taxonomy {{ taxonomy_version }} · report generated {{ generated_at }} by
  <code>python -m enrichment report</code>.</p>
</main></body></html>
"""

INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Catalogue quality reports</title>
<style>{{ style }}</style></head><body>
<header><h1>Catalogue quality reports</h1><div class="sub">{{ runs|length }} run(s), newest first</div></header>
<main><section><table><tr><th>Run</th><th>Committed</th><th>Result</th><th class="num">Checks failed</th>
  <th class="num">Active SKUs</th><th class="num">Tagged</th><th class="num">Quarantined</th></tr>
{% for r in runs %}<tr><td><a href="{{ r.href }}">{{ r.run_id }}</a></td><td>{{ r.committed_at }}</td>
  <td><span class="pill {{ 'pass' if r.passed else 'fail' }}">{{ 'passed' if r.passed else 'failed' }}</span></td>
  <td class="num">{{ r.failed }}</td><td class="num">{{ r.active }}</td><td class="num">{{ r.coverage }}</td>
  <td class="num">{{ r.quarantine }}</td></tr>{% endfor %}
</table></section></main></body></html>
"""

LATEST = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0; url={{ href }}">
<title>Latest quality report</title></head><body><a href="{{ href }}">Latest report: {{ run_id }}</a></body></html>
"""
