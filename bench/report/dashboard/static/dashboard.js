/* vlm-bench dashboard: hover tooltips, drag-to-zoom and the line filter on the inline SVG
 * charts. Hand-written, no library, nothing fetched. The charts are complete without it;
 * this re-lays a chart out for a zoomed x range or a filtered set of lines with the
 * formulas of bench/report/dashboard/svgchart.py (linear x over the range; y from 0 to the
 * first nice tick, 1, 2, 2.5 or 5 x 10^k, at or above 1.05 x the highest visible value;
 * x labels at least data-xroom pixels apart, turned labels turned again at their place). */
(function () {
  "use strict";
  var Y_TICKS = 5;
  var ANGLE = 40;
  var tip = null;

  function niceTicks(top) {
    if (!(top > 0) || !isFinite(top)) return [0, 0.25, 0.5, 0.75, 1];
    var want = 1.05 * top;
    var raw = want / (Y_TICKS - 1);
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = 10 * power;
    [1, 2, 2.5, 5, 10].some(function (m) {
      if (m * power >= raw * (1 - 1e-9)) {
        step = m * power;
        return true;
      }
      return false;
    });
    var count = Math.ceil(want / step - 1e-9);
    var out = [];
    for (var i = 0; i <= count; i++) out.push(Math.round(i * step * 1e12) / 1e12);
    return out;
  }

  function tickText(value, ticks) {
    var step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
    var d = 0;
    while (d < 8 && Math.abs(Number(step.toFixed(d)) - step) >= step * 1e-6) d++;
    return value.toFixed(d);
  }

  function shown(el) {
    var g = el.closest("g.series");
    return !g || g.style.display !== "none";
  }

  function nums(text) {
    return text.split(" ").map(Number);
  }

  function showTip(evt, text) {
    if (!tip) {
      tip = document.createElement("div");
      tip.className = "tip";
      tip.setAttribute("role", "tooltip");
      document.body.appendChild(tip);
    }
    tip.textContent = text;
    tip.style.display = "block";
    tip.style.left = evt.pageX + 12 + "px";
    tip.style.top = evt.pageY + 12 + "px";
  }

  function hideTip() {
    if (tip) tip.style.display = "none";
  }

  function layout(svg, x0, x1) {
    var box = nums(svg.dataset.box); // left top right bottom, in pixels
    var px = function (x) {
      return box[0] + ((x - x0) / (x1 - x0)) * (box[2] - box[0]);
    };
    var inside = function (el) {
      var x = Number(el.dataset.x);
      return x >= x0 && x <= x1;
    };
    var top = 0;
    svg.querySelectorAll("circle.pt").forEach(function (c) {
      if (inside(c) && shown(c)) top = Math.max(top, Number(c.dataset.y));
    });
    var ticks = niceTicks(top);
    var y1 = ticks[ticks.length - 1];
    var py = function (y) {
      return box[3] - (y / y1) * (box[3] - box[1]);
    };
    var yticks = svg.querySelector("g.yticks");
    while (yticks.firstChild) yticks.removeChild(yticks.firstChild);
    ticks.forEach(function (v) {
      var y = py(v).toFixed(2);
      var line = document.createElementNS(svg.namespaceURI, "line");
      line.setAttribute("class", "grid");
      line.setAttribute("x1", box[0]);
      line.setAttribute("x2", box[2]);
      line.setAttribute("y1", y);
      line.setAttribute("y2", y);
      var text = document.createElementNS(svg.namespaceURI, "text");
      text.setAttribute("class", "ylab");
      text.setAttribute("x", box[0] - 6);
      text.setAttribute("y", y);
      text.textContent = tickText(v, ticks);
      yticks.appendChild(line);
      yticks.appendChild(text);
    });
    svg.querySelectorAll("circle.pt").forEach(function (c) {
      c.style.display = inside(c) ? "" : "none";
      c.setAttribute("cx", px(Number(c.dataset.x)).toFixed(2));
      c.setAttribute("cy", py(Number(c.dataset.y)).toFixed(2));
    });
    svg.querySelectorAll("g.series").forEach(function (g) {
      var d = [];
      g.querySelectorAll("circle.pt:not(.gm)").forEach(function (c) {
        if (inside(c)) d.push((d.length ? "L" : "M") + c.getAttribute("cx") + " " + c.getAttribute("cy"));
      });
      g.querySelector("path.line").setAttribute("d", d.join(" "));
    });
    svg.querySelectorAll("g.cp").forEach(function (g) {
      var x = px(Number(g.dataset.x)).toFixed(2);
      g.style.display = inside(g) ? "" : "none";
      g.querySelectorAll("line").forEach(function (l) {
        l.setAttribute("x1", x);
        l.setAttribute("x2", x);
      });
      g.querySelectorAll("text").forEach(function (t) {
        t.setAttribute("x", (Number(x) + 3).toFixed(2));
      });
    });
    var labels = Array.prototype.filter.call(svg.querySelectorAll("text.xlab"), inside);
    labels.sort(function (a, b) {
      return Number(a.dataset.x) - Number(b.dataset.x);
    });
    var room = Number(svg.dataset.xroom || 40);
    var last = -Infinity;
    svg.querySelectorAll("text.xlab").forEach(function (t) {
      t.style.display = "none";
    });
    labels.forEach(function (t) {
      var at = px(Number(t.dataset.x));
      var x = at.toFixed(2);
      t.setAttribute("x", x);
      if (t.classList.contains("rot")) {
        t.setAttribute("transform", "rotate(-" + ANGLE + " " + x + " " + t.getAttribute("y") + ")");
      }
      if (at - last >= room) {
        t.style.display = "";
        last = at;
      }
    });
    svg.dataset.view = x0 + " " + x1;
  }

  function toData(svg, evt) {
    var rect = svg.getBoundingClientRect();
    var box = nums(svg.dataset.box);
    var view = nums(svg.dataset.view || svg.dataset.domain);
    var sx = ((evt.clientX - rect.left) * svg.viewBox.baseVal.width) / rect.width;
    var clamped = Math.min(Math.max(sx, box[0]), box[2]);
    return {
      px: clamped,
      x: view[0] + ((clamped - box[0]) / (box[2] - box[0])) * (view[1] - view[0]),
    };
  }

  function setup(fig) {
    var svg = fig.querySelector("svg.dash-chart");
    var sel = svg.querySelector("rect.sel");
    var reset = fig.querySelector("button.reset");
    var box = nums(svg.dataset.box);
    var start = null;
    svg.addEventListener("mouseover", function (evt) {
      var el = evt.target.closest("[data-tip]");
      if (el) showTip(evt, el.dataset.tip);
    });
    svg.addEventListener("mousemove", function (evt) {
      var el = evt.target.closest("[data-tip]");
      if (el && !start) showTip(evt, el.dataset.tip);
      if (!start) return;
      var now = toData(svg, evt);
      sel.setAttribute("x", Math.min(start.px, now.px));
      sel.setAttribute("width", Math.abs(now.px - start.px));
    });
    svg.addEventListener("mouseout", function (evt) {
      if (evt.target.closest("[data-tip]")) hideTip();
    });
    svg.addEventListener("mousedown", function (evt) {
      if (evt.button !== 0) return;
      evt.preventDefault();
      start = toData(svg, evt);
      sel.setAttribute("x", start.px);
      sel.setAttribute("y", box[1]);
      sel.setAttribute("width", 0);
      sel.setAttribute("height", box[3] - box[1]);
    });
    window.addEventListener("mouseup", function (evt) {
      if (!start) return;
      var end = toData(svg, evt);
      var from = start;
      start = null;
      sel.setAttribute("width", 0);
      if (Math.abs(end.px - from.px) < 6) return; // a click, not a drag
      layout(svg, Math.min(from.x, end.x), Math.max(from.x, end.x));
      reset.hidden = false;
    });
    function unzoom() {
      var d = nums(svg.dataset.domain);
      layout(svg, d[0], d[1]);
      delete svg.dataset.view;
      reset.hidden = true;
    }
    reset.addEventListener("click", unzoom);
    svg.addEventListener("dblclick", unzoom);
  }

  function matches(el, want) {
    return Object.keys(want).every(function (key) {
      var have = el.getAttribute("data-f-" + key);
      return !want[key] || have === null || have === want[key];
    });
  }

  function applyFilters() {
    var want = {};
    document.querySelectorAll("select.filter").forEach(function (s) {
      want[s.dataset.key] = s.value;
    });
    document.querySelectorAll("figure.chart").forEach(function (fig) {
      var svg = fig.querySelector("svg.dash-chart");
      var any = false;
      fig.querySelectorAll("g.series, g.cp, .legend span").forEach(function (el) {
        var on = matches(el, want);
        el.style.display = on ? "" : "none";
        if (on && el.matches("g.series")) any = true;
      });
      fig.style.display = any ? "" : "none";
      if (!any) return;
      // The x range of the lines shown: a filtered chart spans its own runs only.
      var xs = [];
      svg.querySelectorAll("g.series circle.pt").forEach(function (c) {
        if (shown(c)) xs.push(Number(c.dataset.x));
      });
      var lo = Math.min.apply(null, xs);
      var hi = Math.max.apply(null, xs);
      var pad = Math.max((hi - lo) * 0.04, 0.5);
      svg.dataset.domain = lo - pad + " " + (hi + pad);
      layout(svg, lo - pad, hi + pad);
      delete svg.dataset.view;
      fig.querySelector("button.reset").hidden = true;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("figure.chart").forEach(setup);
    document.querySelectorAll("select.filter").forEach(function (s) {
      s.addEventListener("change", applyFilters);
    });
    if (document.querySelector("select.filter")) applyFilters();
  });
})();
