/* lomsong's own map script (not vendored: written for lomsong, MIT like the project).
 * Every piece of data comes from the JSON block #lomsong-map-data, read with JSON.parse; nothing
 * from the data is ever evaluated as code. Popup HTML is built and escaped by maps/popups.py;
 * tooltips and labels are set as text. Runs once the page's own (folium) script has made the
 * map and its layers, which are global variables named in the data. */
(function () {
  "use strict";
  function layer(name) {
    var found = window[name];
    if (!found || typeof found.addLayer !== "function" && typeof found.bindPopup !== "function") {
      throw new Error("lomsong map: no layer " + name);
    }
    return found;
  }
  function textNode(tag, text, className) {
    var element = document.createElement(tag);
    if (className) { element.className = className; }
    element.textContent = text;
    return element;
  }
  function table(rows) {
    var t = document.createElement("table");
    t.className = "lomsong-popup";
    rows.forEach(function (pair) {
      var tr = t.insertRow();
      tr.appendChild(textNode("th", pair[0]));
      tr.appendChild(textNode("td", pair[1]));
    });
    return t;
  }
  function ring(p) {
    var out = [], lat = 0, lon = 0;
    for (var i = 0; i < p.length; i += 2) {
      lat += p[i]; lon += p[i + 1]; out.push([lat / 1e6, lon / 1e6]);
    }
    return out;
  }
  function cellLayer(d, key) {
    /* the cells of one carrier x technology x window, as canvas polygons with their popups */
    var group = L.layerGroup(), head = d.heads[key];
    function num(v, f) {
      return v === null ? "–" : (v / f).toFixed(f > 1 ? 1 : 0).replace(".", d.text.decimal);
    }
    (d.rows[key] || []).forEach(function (r) {
      var poly = L.polygon(ring(d.rings[r[0]]), {color: d.colours[r[1]], weight: 0.5,
        opacity: 0.8, fillColor: d.colours[r[1]], fillOpacity: 0.55});
      poly.bindPopup(function () {
        var t = d.text, box = document.createElement("div");
        box.appendChild(textNode("b", head));
        box.appendChild(table([[t.cell, d.ids[r[0]]], [t.status, d.statuses[r[2]]],
          [t.samples, num(r[3], 1) + " (" + t.failed + ": " + num(r[4], 1) + ")"],
          [t.median, num(r[5], 10) + " Mbps"], [t.p10, num(r[6], 10) + " Mbps"],
          [t.share.replace("{threshold}", num(r[10], 1)),
           num(r[7], 1) + "% (" + num(r[8], 1) + "–" + num(r[9], 1) + "%)"],
          [t.rsrp, num(r[11], 1) + " dBm"], [t.sinr, num(r[12], 1) + " dB"]]));
        return box;
      });
      poly.addTo(group);
    });
    return group;
  }
  function addLegend(map, legend) {
    var control = L.control({position: "bottomright"}), what = textNode("div", "", "lomsong-what");
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "lomsong-legend lomsong-key"),
        fold = document.createElement("details"), summary = document.createElement("summary");
      fold.open = window.innerWidth > 700;
      summary.appendChild(textNode("b", legend.title));
      fold.appendChild(summary);
      div.appendChild(what);
      legend.entries.forEach(function (entry) {
        var line = document.createElement("div"), swatch = document.createElement("i");
        swatch.style.background = entry[0];
        line.appendChild(swatch);
        line.appendChild(document.createTextNode(entry[1]));
        fold.appendChild(line);
      });
      fold.appendChild(textNode("div", legend.note));
      div.insertBefore(fold, what);
      return div;
    };
    control.addTo(map);
    /* a legend over a service point folds away; if still over one, the map moves up */
    var box = control.getContainer();
    if (covers(box, map.getPane("markerPane"))) {
      box.querySelector("details").open = false;
      if (covers(box, map.getPane("markerPane"))) {
        map.panBy([0, box.getBoundingClientRect().height], {animate: false});
      }
    }
    return what;
  }
  function covers(element, pane) {
    var b = element.getBoundingClientRect();
    return Array.prototype.some.call(pane.children, function (m) {
      var r = m.getBoundingClientRect();
      return r.right > b.left && r.left < b.right && r.bottom > b.top && r.top < b.bottom;
    });
  }
  function select(name, title, options, chosen) {
    var labelElement = document.createElement("label"), input = document.createElement("select");
    labelElement.className = "lomsong-choice";
    input.name = name;
    options.forEach(function (option) {
      var o = document.createElement("option");
      o.value = option[0]; o.textContent = option[1]; o.selected = option[0] === chosen;
      input.appendChild(o);
    });
    labelElement.appendChild(textNode("b", title));
    labelElement.appendChild(input);
    return labelElement;
  }
  function addChoice(map, d, what) {
    /* carrier, technology and time window: the one question the map answers */
    var c = d.choice, parts = c.start.split("|"), shown = null, weak = null, cache = {};
    var state = {carrier: parts[0], access: parts[1], window: parts[2]};
    function name(list, code) {
      var found = list.filter(function (o) { return o[0] === code; })[0];
      return found ? found[1] : code;
    }
    function show() {
      if (c.combos.indexOf(state.carrier + "|" + state.access) < 0) {
        state.access = c.combos.filter(function (k) {
          return k.split("|")[0] === state.carrier; })[0].split("|")[1];
        div.querySelector("select[name=access]").value = state.access;
      }
      var key = state.carrier + "|" + state.access + "|" + state.window;
      if (shown) { map.removeLayer(shown); }
      if (!cache[key]) { cache[key] = cellLayer(d.cells, key); }
      shown = cache[key].addTo(map);
      if (weak) { map.removeLayer(weak); weak = null; }
      var weakName = c.weak[state.carrier + "|" + state.access];
      if (weakName) { weak = layer(weakName); map.addLayer(weak); }
      what.textContent = name(c.carriers, state.carrier) + " · " +
        name(c.accesses, state.access) + " · " + name(c.windows, state.window);
      map.getContainer().setAttribute("data-shown", key);
    }
    var control = L.control({position: "bottomleft"}), div;
    control.onAdd = function () {
      div = L.DomUtil.create("div", "lomsong-legend lomsong-window");
      div.appendChild(select("carrier", c.titles.carrier, c.carriers, state.carrier));
      div.appendChild(select("access", c.titles.access, c.accesses, state.access));
      div.appendChild(textNode("b", c.titles.window));
      c.windows.forEach(function (option) {
        var labelElement = document.createElement("label"), input = document.createElement("input");
        labelElement.style.display = "block";
        input.type = "radio"; input.name = "lomsong-window"; input.value = option[0];
        input.checked = option[0] === state.window;
        labelElement.appendChild(input);
        labelElement.appendChild(document.createTextNode(" " + option[1]));
        div.appendChild(labelElement);
      });
      L.DomEvent.disableClickPropagation(div);
      div.addEventListener("change", function (e) {
        var key = e.target.name === "lomsong-window" ? "window" : e.target.name;
        state[key] = e.target.value;
        show();
      });
      return div;
    };
    control.addTo(map);
    show();
  }
  function start() {
    var block = document.getElementById("lomsong-map-data");
    if (!block) { return; }
    var d = JSON.parse(block.textContent), map = layer(d.map);
    L.control.scale({imperial: false}).addTo(map);
    (d.outlines || []).concat(d.backdrop || []).forEach(function (name) {
      /* outlines only (ward boundary; residential groups, `backdrop`): a click inside them goes
       * to the cell underneath */
      layer(name).eachLayer(function (p) { p.options.interactive = false; });
    });
    (d.popups || []).forEach(function (p) {
      var box = document.createElement("div");
      box.innerHTML = p.html;  /* built from HTML-escaped text by maps/popups.py */
      layer(p.layer).bindPopup(box, {maxWidth: p.maxWidth});
    });
    (d.tooltips || []).forEach(function (t) {
      layer(t.layer).bindTooltip(textNode("span", t.text), {sticky: true});
    });
    var what = addLegend(map, d.legend);
    if (d.choice && d.choice.combos.length) { addChoice(map, d, what); }
  }
  document.addEventListener("DOMContentLoaded", start);
})();
