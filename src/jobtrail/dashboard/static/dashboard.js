/* The dashboard's own script: small, and never needed. Every page works without it; with
   it, sparklines are drawn and lists of checkboxes get a "select all" box.

   - <div class="sparkline" data-points="[1, 4, null, 2]" data-times="[t0, t1, ...]"
     data-label="..."> becomes a uPlot sparkline: the points (null for a gap) against the
     times (seconds since the epoch) or, without times, against their positions. Its
     colour is the element's CSS colour.
   - <input type="checkbox" data-check-all="FORM" hidden> is shown, and checks or unchecks
     every checkbox named "ids" of the form FORM.

   Both are set up on the page as loaded and on whatever htmx swaps in (htmx:load). */
(function () {
  "use strict";

  function numbers(text, allowNull) {
    var parsed;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return null;
    }
    if (!Array.isArray(parsed)) {
      return null;
    }
    for (var i = 0; i < parsed.length; i++) {
      var value = parsed[i];
      var ok = (typeof value === "number" && isFinite(value)) || (allowNull && value === null);
      if (!ok) {
        return null;
      }
    }
    return parsed;
  }

  function sparkline(element) {
    if (element.dataset.drawn || typeof window.uPlot !== "function") {
      return;
    }
    var points = numbers(element.dataset.points || "[]", true);
    if (points === null || points.length < 2) {
      return;
    }
    var times = element.dataset.times ? numbers(element.dataset.times, false) : null;
    if (times !== null && times.length !== points.length) {
      times = null;
    }
    var xs = times || points.map(function (_, index) { return index; });
    var width = element.clientWidth || 160;
    var height = element.clientHeight || 32;
    var color = window.getComputedStyle(element).color || "#026aa2";
    var options = {
      width: width,
      height: height,
      pxAlign: false,
      cursor: { show: false },
      select: { show: false },
      legend: { show: false },
      scales: { x: { time: times !== null } },
      axes: [{ show: false }, { show: false }],
      series: [{}, {
        label: element.dataset.label || "",
        stroke: color,
        width: 1.5,
        points: { show: false },
      }],
    };
    element.textContent = "";
    element.dataset.drawn = "1";
    new window.uPlot(options, [xs, points], element);
  }

  function checkAll(box) {
    if (box.dataset.ready) {
      return;
    }
    box.dataset.ready = "1";
    box.hidden = false;
    box.addEventListener("change", function () {
      var form = box.dataset.checkAll;
      var selector = "input[type=checkbox][name=ids][form=\"" + CSS.escape(form) + "\"]";
      document.querySelectorAll(selector).forEach(function (each) {
        each.checked = box.checked;
      });
    });
  }

  function within(root, selector, setUpOne) {
    if (root.matches && root.matches(selector)) {
      setUpOne(root);
    }
    root.querySelectorAll(selector).forEach(setUpOne);
  }

  function setUp(root) {
    if (!root || !root.querySelectorAll) {
      return;
    }
    within(root, ".sparkline[data-points]", sparkline);
    within(root, "input[type=checkbox][data-check-all]", checkAll);
  }

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:load", function (event) { setUp(event.target); });
})();
