/* vlm-bench dashboard: hover tooltips and drag-to-zoom on the inline SVG charts.
 * Hand-written, no library, nothing fetched. The charts are complete without it; this
 * re-lays a chart out for a zoomed x range with the formulas of
 * bench/report/dashboard/svgchart.py (linear x over the range, y from 0 to 1.1 x the
 * highest visible value, five y ticks, at most 8 x labels). */
(function () {
  "use strict";
  var MAX_X_LABELS = 8;
  var tip = null;

  function fmt(v) {
    var a = Math.abs(v);
    if (a === 0) return "0";
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    if (a >= 1) return v.toFixed(2);
    if (a >= 0.01) return v.toFixed(3);
    return v.toExponential(1);
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
      if (inside(c)) top = Math.max(top, Number(c.dataset.y));
    });
    var y1 = top > 0 ? top * 1.1 : 1;
    var py = function (y) {
      return box[3] - (y / y1) * (box[3] - box[1]);
    };
    svg.querySelectorAll("text.ylab").forEach(function (t) {
      t.textContent = fmt((y1 * Number(t.dataset.i)) / 4);
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
        t.setAttribute("x", x);
      });
    });
    var labels = Array.prototype.filter.call(svg.querySelectorAll("text.xlab"), inside);
    var step = Math.max(1, Math.ceil(labels.length / MAX_X_LABELS));
    svg.querySelectorAll("text.xlab").forEach(function (t) {
      t.style.display = "none";
    });
    labels.forEach(function (t, i) {
      t.setAttribute("x", px(Number(t.dataset.x)).toFixed(2));
      if (i % step === 0) t.style.display = "";
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

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("figure.chart").forEach(setup);
  });
})();
