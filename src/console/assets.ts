/**
 * The console's only static files: a stylesheet and a small script that
 * refreshes a page's live region until what it shows has ended. Kept as
 * strings so the compiled gateway serves them without a copy step or a
 * build tool.
 */

export const CONSOLE_CSS = `
:root { --ink:#1d2733; --muted:#5b6775; --line:#d6dde5; --bg:#f5f7fa; --accent:#1f5fa8; --bad:#b3261e; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--ink); background:var(--bg); }
header { display:flex; gap:1.5rem; align-items:center; padding:.6rem 1.5rem; background:#16324f; color:#fff; }
header a { color:#fff; text-decoration:none; font-weight:600; }
header .brand { font-size:1.1rem; margin-right:1rem; }
header .who { margin-left:auto; font-size:.9rem; opacity:.9; }
header form { margin:0; }
header button { background:transparent; color:#fff; border:1px solid #ffffff88; }
main { max-width:1100px; margin:1.5rem auto; padding:0 1.5rem; }
h1 { font-size:1.4rem; margin:.2rem 0 1rem; }
h2 { font-size:1.1rem; margin:1.6rem 0 .6rem; }
section.card { background:#fff; border:1px solid var(--line); border-radius:6px; padding:1rem 1.2rem; margin-bottom:1rem; }
section.card > h2:first-child { margin-top:0; }
table { border-collapse:collapse; width:100%; background:#fff; }
th, td { text-align:left; padding:.35rem .6rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; font-size:.85rem; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:.25rem 1.2rem; margin:0; }
dl.facts dt { color:var(--muted); }
dl.facts dd { margin:0; }
form.inline { display:inline; }
label { display:block; margin:.4rem 0 .2rem; color:var(--muted); font-size:.9rem; }
input, select { font:inherit; padding:.35rem .5rem; border:1px solid var(--line); border-radius:4px; min-width:16rem; }
button { font:inherit; padding:.35rem .9rem; border-radius:4px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; }
button.secondary { background:#fff; color:var(--accent); }
button.danger { background:#fff; color:var(--bad); border-color:var(--bad); }
.row { display:flex; gap:.6rem; align-items:end; flex-wrap:wrap; }
.muted { color:var(--muted); }
.message { padding:.8rem 1rem; border-radius:6px; border:1px solid var(--line); background:#fff; }
.message.error { border-color:var(--bad); color:var(--bad); }
.status { font-weight:600; padding:.05rem .45rem; border-radius:3px; background:#e8edf3; font-size:.85rem; }
.status.COMPLETED, .status.DELIVERED { background:#dcefdc; } .status.FAILED, .status.EXPIRED, .status.MISSED, .status.COMPLETED_WITH_ERRORS { background:#f6dcda; }
.status.CANCELLED, .status.PAUSED { background:#f3ead0; } .status.RUNNING, .status.IN_SESSION, .status.IN_PROGRESS, .status.PENDING { background:#d9e6f6; }
td.url { word-break:break-all; }
ol.timeline { list-style:none; padding:0; margin:0; border-left:2px solid var(--line); }
ol.timeline li { position:relative; padding:.2rem 0 .5rem 1rem; }
ol.timeline li::before { content:""; position:absolute; left:-6px; top:.55rem; width:10px; height:10px; border-radius:50%; background:var(--accent); }
svg.bar { display:block; width:100%; height:14px; }
svg.chart { display:block; width:100%; height:auto; background:#fff; }
.legend { display:flex; flex-wrap:wrap; gap:.3rem 1rem; font-size:.85rem; margin:.4rem 0; }
.legend svg { vertical-align:middle; }
.s-QUEUED { fill:#9aa7b5; } .s-NOTIFYING { fill:#7fb1e3; } .s-IN_SESSION { fill:#3f86d1; } .s-SCHEDULED { fill:#8e7cc3; }
.s-IN_PROGRESS { fill:#1f5fa8; } .s-COMPLETED { fill:#3c9a48; } .s-FAILED { fill:#c8453c; } .s-MISSED { fill:#e08b3a; }
.s-CANCELLED { fill:#d1b24a; } .s-EXPIRED { fill:#7a4b3a; } .s-REST { fill:#eef1f4; }
pre { white-space:pre-wrap; word-break:break-all; margin:0; }
`;

export const CONSOLE_JS = `
(function () {
  'use strict';
  function schedule(live) {
    var ms = Number(live.getAttribute('data-refresh-ms')) || 1000;
    setTimeout(function () { refresh(ms); }, ms);
  }
  function refresh(ms) {
    fetch(location.href, { credentials: 'same-origin', headers: { 'accept': 'text/html' } })
      .then(function (r) { if (!r.ok) throw new Error('status ' + r.status); return r.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var next = doc.getElementById('live');
        var here = document.getElementById('live');
        if (!next || !here) return;
        here.replaceWith(next);
        if (next.hasAttribute('data-refresh-ms')) schedule(next);
      })
      .catch(function () {
        var here = document.getElementById('live');
        if (here) setTimeout(function () { refresh(ms * 2); }, ms * 2);
      });
  }
  var live = document.getElementById('live');
  if (live && live.hasAttribute('data-refresh-ms')) schedule(live);
})();
`;
