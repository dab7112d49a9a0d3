"""The report page's inline CSS and JavaScript (no library, no network): the scatter and the player.

The script reads its data from `<script type="application/json">` blocks and draws on canvases.
"""

CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dee7; --bg: #ffffff; --panel: #f6f8fb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); }
header { padding: 18px 28px 10px; border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { margin: 0 0 4px; font-size: 20px; }
nav a { margin-right: 14px; color: #2457c5; text-decoration: none; font-size: 13px; }
main { padding: 8px 28px 40px; max-width: 1180px; }
section { margin: 22px 0 30px; }
h2 { font-size: 17px; margin: 0 0 6px; border-bottom: 1px solid var(--line); padding-bottom: 3px; }
p.note, .note { color: var(--muted); font-size: 12.5px; margin: 4px 0 8px; }
p.warn { color: #8a4b00; background: #fff5e6; border: 1px solid #f3d19c; padding: 6px 10px; border-radius: 4px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
td, th { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img.figure { max-width: 100%; height: auto; border: 1px solid var(--line); }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.plot { position: relative; }
canvas.plot-canvas { width: 640px; height: 520px; max-width: 100%; border: 1px solid var(--line);
                     background: #fff; display: block; }
#zl-tip { position: absolute; pointer-events: none; display: none; background: rgba(29, 35, 48, .92);
          color: #fff; font-size: 12px; padding: 3px 7px; border-radius: 3px; white-space: nowrap; z-index: 2; }
.legend { font-size: 12px; max-height: 520px; overflow: auto; min-width: 120px; }
.legend .sw { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px;
              vertical-align: -1px; }
.controls { margin: 8px 0; display: flex; gap: 10px; align-items: center; }
.controls input[type=range] { width: 420px; max-width: 60vw; }
button { font: inherit; padding: 2px 12px; }
"""

JS = r"""
(function () {
  "use strict";
  var state = window.zlensReport = { scatterPoints: 0, frameCount: 0, frameShown: -1, errors: [] };
  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function prepare(canvas) {
    var dpr = window.devicePixelRatio || 1, w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx: ctx, w: w, h: h };
  }
  var PAD = 46;
  function scale(lims, w, h) {
    var dx = (lims[1] - lims[0]) || 1, dy = (lims[3] - lims[2]) || 1;
    return { x: function (v) { return PAD + (v - lims[0]) / dx * (w - PAD - 12); },
             y: function (v) { return h - PAD - (v - lims[2]) / dy * (h - PAD - 12); } };
  }
  function limits(xs, ys) {
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (var i = 0; i < xs.length; i++) {
      if (xs[i] < x0) x0 = xs[i]; if (xs[i] > x1) x1 = xs[i];
      if (ys[i] < y0) y0 = ys[i]; if (ys[i] > y1) y1 = ys[i];
    }
    var px = (x1 - x0) * 0.05 || 1, py = (y1 - y0) * 0.05 || 1;
    return [x0 - px, x1 + px, y0 - py, y1 + py];
  }
  function axes(c, lims, xlabel, ylabel, title) {
    var ctx = c.ctx, w = c.w, h = c.h;
    ctx.clearRect(0, 0, w, h);
    ctx.strokeStyle = "#9aa3b2"; ctx.lineWidth = 1;
    ctx.strokeRect(PAD, 12, w - PAD - 12, h - PAD - 12);
    ctx.fillStyle = "#5b6475"; ctx.font = "11px sans-serif";
    ctx.textAlign = "left"; ctx.fillText(lims[0].toPrecision(3), PAD, h - PAD + 14);
    ctx.textAlign = "right"; ctx.fillText(lims[1].toPrecision(3), w - 12, h - PAD + 14);
    ctx.fillText(lims[2].toPrecision(3), PAD - 4, h - PAD);
    ctx.fillText(lims[3].toPrecision(3), PAD - 4, 22);
    ctx.textAlign = "center"; ctx.font = "12px sans-serif";
    ctx.fillText(xlabel, PAD + (w - PAD) / 2, h - PAD + 30);
    if (title) { ctx.textAlign = "right"; ctx.fillStyle = "#1d2330"; ctx.fillText(title, w - 18, 28); }
    ctx.save(); ctx.translate(14, 12 + (h - PAD) / 2); ctx.rotate(-Math.PI / 2);
    ctx.fillText(ylabel, 0, 0); ctx.restore();
  }
  function buckets(codes, k) {
    var out = []; for (var c = 0; c < k; c++) out.push([]);
    for (var i = 0; i < codes.length; i++) out[codes[i]].push(i);
    return out;
  }
  function points(c, s, xs, ys, groups, palette, r) {
    var ctx = c.ctx, n = 0;
    ctx.globalAlpha = 0.85;
    for (var g = 0; g < groups.length; g++) {
      var idx = groups[g]; if (!idx.length) continue;
      ctx.fillStyle = palette[g]; ctx.beginPath();
      for (var j = 0; j < idx.length; j++) {
        var px = s.x(xs[idx[j]]), py = s.y(ys[idx[j]]);
        ctx.moveTo(px + r, py); ctx.arc(px, py, r, 0, 2 * Math.PI); n++;
      }
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    return n;
  }

  function scatter() {
    var d = readJSON("zl-scatter-data"), canvas = document.getElementById("zl-scatter");
    if (!d || !canvas) return;
    var c = prepare(canvas), lims = limits(d.x, d.y), s = scale(lims, c.w, c.h);
    var groups = buckets(d.c, d.palette.length), r = d.x.length > 2000 ? 2 : 3;
    axes(c, lims, d.xlabel, d.ylabel, "");
    state.scatterPoints = points(c, s, d.x, d.y, groups, d.palette, r);
    state.scatterXY = function (i) { return [s.x(d.x[i]), s.y(d.y[i])]; };  // for tests: a point's position
    var tip = document.getElementById("zl-tip");
    canvas.addEventListener("mousemove", function (ev) {
      var box = canvas.getBoundingClientRect(), mx = ev.clientX - box.left, my = ev.clientY - box.top;
      var best = -1, bestD = 100;
      for (var i = 0; i < d.x.length; i++) {
        var dx = s.x(d.x[i]) - mx, dy = s.y(d.y[i]) - my, dd = dx * dx + dy * dy;
        if (dd < bestD) { bestD = dd; best = i; }
      }
      if (best < 0) { tip.style.display = "none"; return; }
      var label = d.labels ? d.labels[best] : (d.names ? d.names[d.c[best]] : null);
      tip.textContent = "sample #" + d.i[best] + (label === null ? "" : "  \u00b7  label " + label) +
        "  (" + d.x[best].toPrecision(3) + ", " + d.y[best].toPrecision(3) + ")";
      tip.style.left = (mx + 12) + "px"; tip.style.top = (my + 8) + "px"; tip.style.display = "block";
    });
    canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  }

  function player() {
    var d = readJSON("zl-frames-data"), canvas = document.getElementById("zl-motion");
    if (!d || !canvas) return;
    var raw = atob(d.data), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    var q = new Uint16Array(bytes.buffer), F = d.epochs.length, P = d.n, lims = d.lims;
    var xs = new Float32Array(P), ys = new Float32Array(P);
    var c = prepare(canvas), s = scale(lims, c.w, c.h), groups = buckets(d.c, d.palette.length);
    var slider = document.getElementById("zl-slider"), label = document.getElementById("zl-epoch");
    var button = document.getElementById("zl-play"), timer = null;
    slider.max = F - 1;
    state.frameCount = F;
    function show(f) {
      var base = f * P * 2, sx = (lims[1] - lims[0]) / 65535, sy = (lims[3] - lims[2]) / 65535;
      for (var j = 0; j < P; j++) {
        xs[j] = lims[0] + q[base + 2 * j] * sx; ys[j] = lims[2] + q[base + 2 * j + 1] * sy;
      }
      axes(c, lims, d.xlabel, d.ylabel, "epoch " + d.epochs[f] + "  (" + (f + 1) + "/" + F + ")");
      points(c, s, xs, ys, groups, d.palette, P > 2000 ? 1.6 : 2.4);
      slider.value = f; label.textContent = "epoch " + d.epochs[f]; state.frameShown = f;
    }
    function stop() { if (timer) { clearInterval(timer); timer = null; } button.textContent = "Play"; }
    button.addEventListener("click", function () {
      if (timer) { stop(); return; }
      button.textContent = "Pause";
      var f = +slider.value >= F - 1 ? 0 : +slider.value;
      timer = setInterval(function () { show(f); f += 1; if (f >= F) stop(); }, 1000 / d.fps);
    });
    slider.addEventListener("input", function () { stop(); show(+slider.value); });
    show(F - 1);
  }

  function run(step) { try { step(); } catch (e) { state.errors.push(String(e)); throw e; } }
  run(scatter);
  run(player);
})();
"""
