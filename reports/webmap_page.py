"""The parts of the web map page CityDesk writes itself: the style sheet, the small script that
draws a layer and builds its popups, and the legend, title and note boxes.

Every text that comes from data (layer names, legend labels, attribution, attribute values) is
escaped here or set with ``textContent`` in the browser: a citizen report's ``<script>`` shows
as text and never runs.
"""

from __future__ import annotations

import html

CSS = """
.folium-map.leaflet-container, .leaflet-container { background: #f3f2ee;
  font: 13px/1.35 "Helvetica Neue", Arial, sans-serif; }
.cd-box { background: rgba(255,255,255,0.94); border-radius: 6px; box-shadow: 0 1px 5px rgba(0,0,0,0.3);
  padding: 8px 10px; color: #222; }
.cd-title { max-width: 420px; }
.cd-title h1 { font-size: 16px; margin: 0; font-weight: 600; line-height: 1.25; }
.cd-title p { margin: 2px 0 0 0; color: #555; font-size: 12px; }
.cd-legend { max-height: 55vh; overflow-y: auto; min-width: 150px; max-width: 280px; }
.cd-legend h2 { font-size: 13px; margin: 0 0 4px 0; font-weight: 600; }
.cd-legend .cd-layer { margin: 6px 0 0 0; }
.cd-legend .cd-layer:first-of-type { margin-top: 0; }
.cd-legend .cd-name { font-weight: 600; font-size: 12px; margin-bottom: 2px; }
.cd-legend .cd-row { display: flex; align-items: center; font-size: 12px; margin: 1px 0; }
.cd-legend .cd-sw { flex: none; width: 14px; height: 14px; margin-right: 6px; box-sizing: border-box; }
.cd-legend .cd-point { border-radius: 50%; }
.cd-legend .cd-line { height: 4px; border-radius: 2px; }
.cd-note { font-size: 12px; max-width: 360px; background: #fff8e1; }
.cd-popup-title { font-weight: 600; margin-bottom: 4px; color: #444; font-size: 11px; text-transform: uppercase;
  letter-spacing: 0.03em; }
.cd-popup table { border-collapse: collapse; }
.cd-popup th { text-align: left; padding: 1px 8px 1px 0; color: #666; font-weight: normal; vertical-align: top;
  white-space: nowrap; }
.cd-popup td { padding: 1px 0; white-space: pre-wrap; word-break: break-word; }
.leaflet-control-layers-expanded { font-size: 13px; max-height: 45vh; overflow-y: auto; }
.leaflet-control-attribution { max-width: 55vw; }
"""

# Drawn with plain Leaflet: one pane per layer keeps the project's layer order when layers are
# switched off and on; popups are DOM nodes filled with textContent (never HTML).
SCRIPT = """
var citydesk = (function () {
  function popup(title, fields, values) {
    var box = document.createElement('div');
    box.className = 'cd-popup';
    var head = document.createElement('div');
    head.className = 'cd-popup-title';
    head.textContent = title;
    box.appendChild(head);
    var table = document.createElement('table');
    for (var i = 0; i < fields.length; i++) {
      var v = values ? values[i] : null;
      if (v === null || v === undefined || v === '') continue;
      var row = table.insertRow();
      var th = document.createElement('th');
      th.textContent = fields[i];
      row.appendChild(th);
      row.insertCell().textContent = String(v);
    }
    box.appendChild(table);
    return box;
  }
  function layer(map, d, o) {
    var pane = map.createPane(o.pane);
    pane.style.zIndex = o.z;
    var renderer = o.canvas ? L.canvas({pane: o.pane}) : L.svg({pane: o.pane});
    var data = {type: 'FeatureCollection', features: d.g.map(function (g, i) {
      return {type: 'Feature', geometry: g, properties: {i: i}};
    })};
    function color(f) { return o.colors[d.c[f.properties.i]]; }
    return L.geoJSON(data, {
      pane: o.pane, renderer: renderer, cdId: o.pane,
      style: function (f) {
        if (f.geometry.type.indexOf('Line') >= 0) {
          return {color: color(f), weight: o.lineWeight, opacity: o.opacity, lineCap: 'round', lineJoin: 'round'};
        }
        return {color: o.stroke, weight: o.weight, opacity: o.weight > 0 ? o.opacity : 0,
                fillColor: color(f), fillOpacity: o.fillOpacity * o.opacity};
      },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, {pane: o.pane, renderer: renderer, radius: o.radius, color: o.stroke,
          weight: o.weight, opacity: o.weight > 0 ? o.opacity : 0, fillColor: color(f), fillOpacity: o.opacity});
      },
      onEachFeature: function (f, lyr) {
        if (o.fields.length) {
          lyr.bindPopup(function () { return popup(o.title, o.fields, d.p[f.properties.i]); },
                        {maxWidth: 380, minWidth: 160});
        }
      }
    });
  }
  function box(map, position, className, markup) {
    var Box = L.Control.extend({onAdd: function () {
      var div = L.DomUtil.create('div', 'cd-box ' + className);
      div.innerHTML = markup;  // built and escaped by CityDesk
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    }});
    return new Box({position: position}).addTo(map);
  }
  function legendToggle(map) {
    function show(e, on) {
      var id = e.layer && e.layer.options ? e.layer.options.cdId : null;
      if (!id) return;
      var part = document.querySelector('.cd-legend [data-layer="' + id + '"]');
      if (part) part.style.display = on ? '' : 'none';
    }
    map.on('overlayadd', function (e) { show(e, true); });
    map.on('overlayremove', function (e) { show(e, false); });
  }
  return {layer: layer, box: box, legendToggle: legendToggle};
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def legend_html(entries: list[tuple[str, str, str, str, bool]], style_of) -> str:
    """The legend: ``entries`` are (pane id, layer name, geometry kind, [(label, colour)], shown);
    ``style_of(pane id)`` gives (stroke colour, fill opacity). Hidden layers' parts start hidden."""
    parts = ["<h2>Legend</h2>"]
    for pane, name, kind, legend, shown in entries:
        stroke, opacity = style_of(pane)
        rows = []
        for label, colour in legend:
            rows.append(f'<div class="cd-row">{_swatch(kind, colour, stroke, opacity)}'
                        f'<span>{_e(label) if label else _e(name)}</span></div>')
        title = f'<div class="cd-name">{_e(name)}</div>' if len(legend) > 1 or legend and legend[0][0] else ""
        hidden = "" if shown else ' style="display:none"'
        parts.append(f'<div class="cd-layer" data-layer="{_e(pane)}"{hidden}>{title}{"".join(rows)}</div>')
    return "".join(parts)


def _swatch(kind: str, colour: str, stroke: str, opacity: float) -> str:
    colour, stroke = _e(colour), _e(stroke)
    if kind == "line":
        return f'<span class="cd-sw cd-line" style="background:{colour}"></span>'
    shape = " cd-point" if kind == "point" else ""
    return (f'<span class="cd-sw{shape}" style="background:{colour};opacity:{max(opacity, 0.35):.2f};'
            f'border:1px solid {stroke}"></span>')


def title_html(title: str, subtitle: str = "") -> str:
    sub = f"<p>{_e(subtitle)}</p>" if subtitle else ""
    return f"<h1>{_e(title)}</h1>{sub}"


def note_html(lines: list[str]) -> str:
    return "<br>".join(_e(line) for line in lines)
