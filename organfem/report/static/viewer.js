/* organfem report viewer: decodes the embedded arrays and drives the 3-D view and plots.
 *
 * The data (script#organfem-data, JSON) is written by organfem/report/html.py:
 *   view.points     base64 float32 (n, 3)  reference positions [mm]
 *   view.triangles  base64 uint32 (m, 3)   surface triangles
 *   view.edges      base64 uint32 (k, 2)   feature edges of the reference surface
 *   view.displacement {data: base64 int16 (S, n, 3), scale: [S]}  or null
 *   view.fields[f]  {data: base64 uint16 (S, n), lo, hi, levels, missing, ...}
 * Everything runs locally; nothing is fetched.
 */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("organfem-data").textContent);
  var view = data.view;
  var config = data.config;
  var FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

  function bytes(text) {
    var s = atob(text);
    var out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out.buffer;
  }

  function byId(id) { return document.getElementById(id); }

  // ------------------------------------------------------------------ decoded arrays
  var n = view.n_points;
  var ref = new Float32Array(bytes(view.points));
  var tris = new Uint32Array(bytes(view.triangles));
  var m = tris.length / 3;
  var edges = new Uint32Array(bytes(view.edges));
  var disp = view.displacement ? new Int16Array(bytes(view.displacement.data)) : null;
  var fieldCodes = view.fields.map(function (f) { return new Uint16Array(bytes(f.data)); });
  var steps = Math.max(view.steps, 1);

  var refXYZ = split(ref);
  var allI = new Int32Array(m), allJ = new Int32Array(m), allK = new Int32Array(m);
  for (var t = 0; t < m; t++) { allI[t] = tris[3 * t]; allJ[t] = tris[3 * t + 1]; allK[t] = tris[3 * t + 2]; }

  function split(flat) {
    var x = new Float32Array(n), y = new Float32Array(n), z = new Float32Array(n);
    for (var p = 0; p < n; p++) { x[p] = flat[3 * p]; y[p] = flat[3 * p + 1]; z[p] = flat[3 * p + 2]; }
    return { x: x, y: y, z: z };
  }

  var positionCache = {};
  function positions(step) {
    if (!disp) return refXYZ;
    if (positionCache[step]) return positionCache[step];
    var s = view.displacement.scale[step], base = 3 * n * step;
    var x = new Float32Array(n), y = new Float32Array(n), z = new Float32Array(n);
    for (var p = 0; p < n; p++) {
      x[p] = ref[3 * p] + s * disp[base + 3 * p];
      y[p] = ref[3 * p + 1] + s * disp[base + 3 * p + 1];
      z[p] = ref[3 * p + 2] + s * disp[base + 3 * p + 2];
    }
    return (positionCache[step] = { x: x, y: y, z: z });
  }

  var valueCache = {};
  function values(f, step) {
    var key = f + ":" + step;
    if (valueCache[key]) return valueCache[key];
    var meta = view.fields[f], codes = fieldCodes[f], base = n * step;
    var d = (meta.hi - meta.lo) / meta.levels, out = new Float32Array(n);
    for (var p = 0; p < n; p++) {
      var c = codes[base + p];
      out[p] = c === meta.missing ? NaN : meta.lo + c * d;
    }
    return (valueCache[key] = out);
  }

  // ------------------------------------------------------------------ controls and state
  var controls = {
    step: byId("step"), stepLabel: byId("step-label"), field: byId("field"),
    outline: byId("outline"), clip: byId("clip"), axis: byId("clip-axis"),
    position: byId("clip-position"), positionLabel: byId("clip-label"),
    flip: byId("clip-flip"), reset: byId("reset-view")
  };

  function state() {
    return {
      step: Math.min(Math.max(parseInt(controls.step.value, 10) || 0, 0), steps - 1),
      field: controls.field ? parseInt(controls.field.value, 10) || 0 : -1,
      outline: controls.outline.checked,
      clip: controls.clip.checked,
      axis: parseInt(controls.axis.value, 10) || 0,
      position: parseFloat(controls.position.value) / 100,
      flip: controls.flip.checked
    };
  }

  // Triangles whose centroid is on the kept side of the clipping plane.
  function clipped(xyz, st) {
    if (!st.clip) return { i: allI, j: allJ, k: allK };
    var axis = view.clip_axes[st.axis], v = axis.vector;
    var offset = axis.lo + st.position * (axis.hi - axis.lo);
    var I = [], J = [], K = [];
    for (var t = 0; t < m; t++) {
      var a = tris[3 * t], b = tris[3 * t + 1], c = tris[3 * t + 2];
      var along = (v[0] * (xyz.x[a] + xyz.x[b] + xyz.x[c]) + v[1] * (xyz.y[a] + xyz.y[b] + xyz.y[c]) +
                   v[2] * (xyz.z[a] + xyz.z[b] + xyz.z[c])) / 3;
      if ((along <= offset) !== st.flip) { I.push(a); J.push(b); K.push(c); }
    }
    return { i: Int32Array.from(I), j: Int32Array.from(J), k: Int32Array.from(K) };
  }

  function edgeLines(st) {
    var axis = view.clip_axes[st.axis], v = axis.vector;
    var offset = axis.lo + st.position * (axis.hi - axis.lo);
    var x = [], y = [], z = [];
    for (var e = 0; e < edges.length / 2; e++) {
      var a = edges[2 * e], b = edges[2 * e + 1];
      if (st.clip) {
        var along = (v[0] * (ref[3 * a] + ref[3 * b]) + v[1] * (ref[3 * a + 1] + ref[3 * b + 1]) +
                     v[2] * (ref[3 * a + 2] + ref[3 * b + 2])) / 2;
        if ((along <= offset) === st.flip) continue;
      }
      x.push(ref[3 * a], ref[3 * b], null);
      y.push(ref[3 * a + 1], ref[3 * b + 1], null);
      z.push(ref[3 * a + 2], ref[3 * b + 2], null);
    }
    return { x: x, y: y, z: z };
  }

  function traces(st) {
    var xyz = positions(st.step), kept = clipped(xyz, st);
    var body = {
      type: "mesh3d", name: "deformed", x: xyz.x, y: xyz.y, z: xyz.z, i: kept.i, j: kept.j, k: kept.k,
      flatshading: false, showscale: false,
      lighting: { ambient: 0.45, diffuse: 0.75, specular: 0.15, roughness: 0.55, fresnel: 0.1 },
      lightposition: { x: 1000, y: -1500, z: 3000 },
      hovertemplate: "x %{x:.1f}, y %{y:.1f}, z %{z:.1f} mm<extra></extra>"
    };
    if (st.field >= 0) {
      var f = view.fields[st.field];
      body.intensity = values(st.field, st.step);
      body.intensitymode = "vertex";
      body.colorscale = f.colorscale;
      body.reversescale = f.reversescale;
      if (f.cmid === null) { body.cmin = f.lo; body.cmax = f.hi; } else {
        var bound = Math.max(Math.abs(f.lo), Math.abs(f.hi));
        body.cmin = -bound; body.cmax = bound;
      }
      if (body.cmin === body.cmax) { body.cmin -= 1; body.cmax += 1; }
      body.showscale = true;
      body.colorbar = { title: { text: f.title, side: "right" }, thickness: 18, len: 0.75 };
      body.hovertemplate = f.label + ": %{intensity:.4g}" + (f.unit ? " " + f.unit : "") + "<extra></extra>";
    } else {
      body.color = "#c9a38b";
    }
    var out = [body];
    if (st.outline) {
      var refKept = clipped(refXYZ, st);
      out.push({
        type: "mesh3d", name: "reference", x: refXYZ.x, y: refXYZ.y, z: refXYZ.z,
        i: refKept.i, j: refKept.j, k: refKept.k, color: "#6b7683", opacity: 0.22,
        flatshading: false, hoverinfo: "skip", showscale: false,
        lighting: { ambient: 0.8, diffuse: 0.3, specular: 0.0 }
      });
      var lines = edgeLines(st);
      out.push({
        type: "scatter3d", mode: "lines", name: "reference edges", x: lines.x, y: lines.y, z: lines.z,
        line: { color: "#39424d", width: 3 }, hoverinfo: "skip", showlegend: false, connectgaps: false
      });
    }
    return out;
  }

  function axisLayout(name) {
    return {
      range: view.range[name], autorange: false, title: { text: view.axis_titles[name] },
      backgroundcolor: "#fbfcfd", showbackground: true, gridcolor: "#e3e7eb", zeroline: false,
      showspikes: false
    };
  }

  var layout = {
    font: { family: FONT, size: 13, color: "#1d2733" },
    margin: { l: 0, r: 0, t: 16, b: 0 },
    paper_bgcolor: "#ffffff",
    showlegend: false,
    uirevision: "organfem",
    scene: {
      xaxis: axisLayout("x"), yaxis: axisLayout("y"), zaxis: axisLayout("z"),
      aspectmode: "manual", aspectratio: view.aspect,
      camera: { eye: view.camera.eye, up: view.camera.up, center: view.camera.center },
      dragmode: "orbit",
      annotations: view.labels.map(function (a) {
        return {
          x: a.x, y: a.y, z: a.z, text: "<b>" + a.text + "</b>", hovertext: a.hover, showarrow: false,
          bgcolor: "rgba(255,255,255,0.75)", bordercolor: "#39424d", borderwidth: 1, borderpad: 3,
          font: { size: 14, color: "#1d2733" }
        };
      })
    }
  };

  var gd = byId("view");
  var drawn = 0;
  var pending = null;

  function markDrawn() { drawn += 1; document.body.setAttribute("data-drawn", String(drawn)); }

  function stepText(step) { return view.step_labels[Math.min(step, view.step_labels.length - 1)]; }

  function update() {
    var st = state();
    controls.stepLabel.textContent = stepText(st.step);
    controls.positionLabel.textContent = Math.round(st.position * 100) + " %";
    [controls.axis, controls.position, controls.flip].forEach(function (c) { c.disabled = !st.clip; });
    markPlots(st.step);
    // Coalesce bursts of slider events into one redraw per frame.
    if (pending !== null) return;
    pending = window.requestAnimationFrame(function () {
      pending = null;
      Plotly.react(gd, traces(state()), layout, config).then(markDrawn);
    });
  }

  // ------------------------------------------------------------------ 2-D plots
  var plotDivs = [];

  function plotLayout(title, xLabel, yLabel) {
    return {
      title: { text: title, font: { size: 15 } },
      font: { family: FONT, size: 12, color: "#1d2733" },
      margin: { l: 64, r: 16, t: 44, b: 52 },
      xaxis: { title: { text: xLabel }, zeroline: false, gridcolor: "#e3e7eb" },
      yaxis: { title: { text: yLabel }, zeroline: false, gridcolor: "#e3e7eb" },
      showlegend: false, paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff", hovermode: "closest"
    };
  }

  function drawPlots() {
    var holder = byId("plots");
    var done = [];
    if (holder) {
      data.plots.forEach(function (p, index) {
        var div = document.createElement("div");
        div.className = "plot";
        div.id = "plot-" + index;
        holder.appendChild(div);
        var lines = p.series.map(function (s) {
          return { type: "scatter", mode: "lines+markers", name: s.name, x: p.x, y: s.y,
                   line: { width: 2 }, marker: { size: 6 },
                   hovertemplate: p.x_label + " %{x:.4g}<br>" + p.y_label + " %{y:.4g}<extra>" + s.name + "</extra>" };
        });
        var rings = p.per_step ? p.series.map(function (s) {
          return { type: "scatter", mode: "markers", name: "shown", x: [null], y: [null], hoverinfo: "skip",
                   marker: { size: 15, color: "rgba(0,0,0,0)", line: { color: "#d62728", width: 2.5 } } };
        }) : [];
        var layoutP = plotLayout(p.title, p.x_label, p.y_label);
        layoutP.showlegend = p.series.length > 1;
        plotDivs.push({ div: div, plot: p, first: lines.length, count: rings.length });
        done.push(Plotly.newPlot(div, lines.concat(rings), layoutP, config));
      });
    }
    var conv = byId("convergence");
    if (conv && data.convergence) {
      var c = data.convergence;
      var layoutC = plotLayout("Newton iterations per step", c.x_label, c.y_label);
      layoutC.xaxis.dtick = Math.max(1, Math.ceil(c.x.length / 15));  // whole steps
      done.push(Plotly.newPlot(conv, [{ type: "bar", x: c.x, y: c.y, marker: { color: "#1f5f99" },
        hovertemplate: c.x_label + " %{x}: %{y} iterations<extra></extra>" }], layoutC, config));
    }
    return Promise.all(done);
  }

  function markPlots(step) {
    plotDivs.forEach(function (entry) {
      if (!entry.count) return;
      var xs = [], ys = [], idx = [];
      entry.plot.series.forEach(function (s, k) {
        xs.push([entry.plot.x[step]]); ys.push([s.y[step]]); idx.push(entry.first + k);
      });
      Plotly.restyle(entry.div, { x: xs, y: ys }, idx);
    });
  }

  // ------------------------------------------------------------------ start
  ["input", "change"].forEach(function (type) {
    [controls.step, controls.position].forEach(function (c) { c.addEventListener(type, update); });
  });
  [controls.field, controls.outline, controls.clip, controls.axis, controls.flip].forEach(function (c) {
    if (c) c.addEventListener("change", update);
  });
  controls.reset.addEventListener("click", function () {
    Plotly.relayout(gd, { "scene.camera": layout.scene.camera }).then(markDrawn);
  });

  var first = state();
  controls.stepLabel.textContent = stepText(first.step);
  [controls.axis, controls.position, controls.flip].forEach(function (c) { c.disabled = !first.clip; });
  Promise.all([
    Plotly.newPlot(gd, traces(first), layout, config),
    drawPlots()
  ]).then(function () {
    markPlots(first.step);
    markDrawn();
    document.body.setAttribute("data-ready", "1");
  }, function (error) {
    document.body.setAttribute("data-error", String(error));
    throw error;
  });
})();
