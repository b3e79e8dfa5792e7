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
  function drawCells(d) {
    var rings = d.rings.map(ring);
    function num(v, f) {
      return v === null ? "–" : (v / f).toFixed(f > 1 ? 1 : 0).replace(".", d.text.decimal);
    }
    Object.keys(d.rows).forEach(function (key) {
      var group = layer(d.groups[key]), head = d.heads[key];
      d.rows[key].forEach(function (r) {
        var poly = L.polygon(rings[r[0]], {color: d.colours[r[1]], weight: 0.5, opacity: 0.8,
          fillColor: d.colours[r[1]], fillOpacity: 0.55});
        poly.bindPopup(function () {
          var t = d.text, box = document.createElement("div");
          box.appendChild(textNode("b", head));
          box.appendChild(table([[t.status, d.statuses[r[2]]],
            [t.samples, num(r[3], 1) + " (" + t.failed + ": " + num(r[4], 1) + ")"],
            [t.median, num(r[5], 10) + " Mbps"], [t.p10, num(r[6], 10) + " Mbps"],
            [t.share.replace("{threshold}", num(r[10], 1)),
             num(r[7], 1) + "% (" + num(r[8], 1) + "–" + num(r[9], 1) + "%)"],
            [t.rsrp, num(r[11], 1) + " dBm"], [t.sinr, num(r[12], 1) + " dB"]]));
          return box;
        });
        poly.addTo(group);
      });
    });
  }
  function addLegend(map, legend) {
    var control = L.control({position: "bottomright"});
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "lomsong-legend");
      div.appendChild(textNode("b", legend.title));
      legend.entries.forEach(function (entry) {
        var line = document.createElement("div"), swatch = document.createElement("i");
        swatch.style.background = entry[0];
        line.appendChild(swatch);
        line.appendChild(document.createTextNode(entry[1]));
        div.appendChild(line);
      });
      div.appendChild(textNode("div", legend.note));
      return div;
    };
    control.addTo(map);
  }
  function addWindowSwitch(map, windows) {
    var control = L.control({position: "bottomleft"});
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "lomsong-legend lomsong-window");
      div.appendChild(textNode("b", windows.title));
      windows.options.forEach(function (option, i) {
        var labelElement = document.createElement("label"), input = document.createElement("input");
        labelElement.style.display = "block";
        input.type = "radio"; input.name = "lomsong-window"; input.value = option[0];
        input.checked = i === 0;
        labelElement.appendChild(input);
        labelElement.appendChild(document.createTextNode(" " + option[1]));
        div.appendChild(labelElement);
      });
      L.DomEvent.disableClickPropagation(div);
      div.addEventListener("change", function (e) {
        var chosen = e.target.value;
        Object.keys(windows.layers).forEach(function (combo) {
          var byWindow = windows.layers[combo], shown = false;
          Object.keys(byWindow).forEach(function (w) {
            var group = layer(byWindow[w]);
            if (map.hasLayer(group)) { shown = true; map.removeLayer(group); }
          });
          if (shown && byWindow[chosen]) { map.addLayer(layer(byWindow[chosen])); }
        });
      });
      return div;
    };
    control.addTo(map);
  }
  function start() {
    var block = document.getElementById("lomsong-map-data");
    if (!block) { return; }
    var d = JSON.parse(block.textContent), map = layer(d.map);
    if (d.cells) { drawCells(d.cells); }
    (d.popups || []).forEach(function (p) {
      var box = document.createElement("div");
      box.innerHTML = p.html;  /* built from HTML-escaped text by maps/popups.py */
      layer(p.layer).bindPopup(box, {maxWidth: p.maxWidth});
    });
    (d.tooltips || []).forEach(function (t) {
      layer(t.layer).bindTooltip(textNode("span", t.text), {sticky: true});
    });
    if (d.legend) { addLegend(map, d.legend); }
    if (d.windows) { addWindowSwitch(map, d.windows); }
  }
  document.addEventListener("DOMContentLoaded", start);
})();
