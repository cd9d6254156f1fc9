// Sensitive areas: the catalogue on a tile-free vector map (SVG, lon/lat projected with the
// cosine of the mean latitude), with the points of a dataset that fell inside them.
import { api } from "../api.js";
import { svg } from "../charts.js";
import { badge, clear, field, fmt, h, panel, select, table } from "../dom.js";
import { t } from "../i18n.js";

const KIND_COLORS = {
  military_zone: "#b91c1c",
  defense_industry: "#c2410c",
  government_organ: "#7c3aed",
};
const W = 900;
const H = 520;

function rings(geometry) {
  if (geometry.type === "Polygon") return [geometry.coordinates];
  if (geometry.type === "MultiPolygon") return geometry.coordinates;
  return [];
}

function bounds(features, points) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  const add = (x, y) => {
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
  };
  for (const f of features) for (const poly of rings(f.geometry)) for (const ring of poly) for (const [x, y] of ring) add(x, y);
  for (const p of points) add(p.lon, p.lat);
  if (!Number.isFinite(x0)) return [115, 39, 117, 41];
  const padX = Math.max((x1 - x0) * 0.12, 0.004);
  const padY = Math.max((y1 - y0) * 0.12, 0.004);
  return [x0 - padX, y0 - padY, x1 + padX, y1 + padY];
}

function projection([x0, y0, x1, y1]) {
  const k = Math.cos((((y0 + y1) / 2) * Math.PI) / 180);
  const sx = W / ((x1 - x0) * k);
  const sy = H / (y1 - y0);
  const s = Math.min(sx, sy);
  const ox = (W - (x1 - x0) * k * s) / 2;
  const oy = (H - (y1 - y0) * s) / 2;
  const project = (lon, lat) => [ox + (lon - x0) * k * s, oy + (y1 - lat) * s];
  const metresPerUnit = 111_320 / s; // one SVG unit in metres (along a meridian)
  return { project, metresPerUnit };
}

function centre(f) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const poly of rings(f.geometry)) {
    for (const [x, y] of poly[0] || []) {
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  }
  return [(x0 + x1) / 2, (y0 + y1) / 2];
}

function drawMap(features, points, hitAreas) {
  // With points shown, fit the map to them and the areas they fell in; else the whole catalogue.
  const focus = points.length ? features.filter((f) => hitAreas.has(f.properties.id)) : features;
  const { project, metresPerUnit } = projection(bounds(focus, points));
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "map", "data-testid": "map" });
  const layer = svg("g", {});
  root.append(svg("rect", { x: -W * 50, y: -H * 50, width: W * 101, height: H * 101, class: "map-bg" }), layer);
  // a graticule every 0.01° keeps a sense of scale without tiles
  for (const f of features) {
    const color = KIND_COLORS[f.properties.kind] || "#0f766e";
    const d = rings(f.geometry)
      .map((poly) => poly.map((ring) => ring.map(([x, y], i) => `${i ? "L" : "M"}${project(x, y).map((v) => v.toFixed(1)).join(",")}`).join("") + "Z").join(""))
      .join("");
    const bufferPx = (f.properties.buffer_m || 0) / metresPerUnit;
    if (bufferPx > 0.5) {
      layer.append(svg("path", { d, class: "area-buffer", stroke: color, "stroke-width": (bufferPx * 2).toFixed(1) }));
    }
    layer.append(
      svg(
        "path",
        { d, class: "area", fill: color, stroke: color, "fill-rule": "evenodd", "data-area": f.properties.id },
        svg("title", {}, `${f.properties.name} · ${t(`area.${f.properties.kind}`)} · ${t("areas.buffer")} ${f.properties.buffer_m} m`),
      ),
    );
  }
  const dots = svg("g", { class: "points" });
  for (const p of points) {
    const [x, y] = project(p.lon, p.lat);
    dots.append(svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 1.3, class: `pt pt-${p.level}` }));
  }
  layer.append(dots);
  // a marker and a label at each area's centre keep small areas visible at any zoom
  for (const f of features) {
    const [x, y] = project(...centre(f));
    const color = KIND_COLORS[f.properties.kind] || "#0f766e";
    const right = x > W - 220;
    const ring = rings(f.geometry)[0]?.[0] || [];
    const xs = ring.map(([lon, lat]) => project(lon, lat)[0]);
    const small = xs.length && Math.max(...xs) - Math.min(...xs) < 14;
    if (small) layer.append(svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 8, class: "area-marker", fill: color, stroke: color }));
    layer.append(
      svg("text", { x: right ? x - 14 : x + 14, y: y + 4, class: "map-label", "text-anchor": right ? "end" : "start" }, f.properties.name),
    );
  }
  // scale bar: 1 km
  const km = 1000 / metresPerUnit;
  root.append(
    svg("g", { class: "scalebar" }, svg("rect", { x: 16, y: H - 24, width: km, height: 4 }), svg("text", { x: 16, y: H - 30 }, "1 km")),
  );
  panZoom(root, layer);
  return root;
}

function panZoom(root, layer) {
  let scale = 1;
  let tx = 0;
  let ty = 0;
  const apply = () => layer.setAttribute("transform", `translate(${tx},${ty}) scale(${scale})`);
  const toSvg = (event) => {
    const r = root.getBoundingClientRect();
    return [((event.clientX - r.left) / r.width) * W, ((event.clientY - r.top) / r.height) * H];
  };
  root.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      const [mx, my] = toSvg(event);
      const factor = event.deltaY < 0 ? 1.25 : 0.8;
      const next = Math.min(200, Math.max(0.5, scale * factor));
      tx = mx - ((mx - tx) * next) / scale;
      ty = my - ((my - ty) * next) / scale;
      scale = next;
      apply();
    },
    { passive: false },
  );
  let drag = null;
  root.addEventListener("pointerdown", (event) => {
    drag = [...toSvg(event), tx, ty];
    root.setPointerCapture(event.pointerId);
  });
  root.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const [x, y] = toSvg(event);
    tx = drag[2] + x - drag[0];
    ty = drag[3] + y - drag[1];
    apply();
  });
  root.addEventListener("pointerup", () => {
    drag = null;
  });
  root.addEventListener("dblclick", () => {
    scale = 1;
    tx = 0;
    ty = 0;
    apply();
  });
}

export async function render(root, ctx) {
  const [catalogue, datasets] = await Promise.all([api("/v1/console/areas"), api("/v1/datasets")]);
  clear(root);
  const features = catalogue.features;
  const mapBox = h("div", { class: "map-box" });
  const hitsBox = h("div");
  let hits = null;
  const redraw = () =>
    clear(mapBox).append(drawMap(features, hits ? hits.points : [], new Set((hits?.areas || []).map((a) => a.id))));
  const dataset = select("dataset", [["", t("areas.no_dataset")], ...datasets.map((d) => [d.dataset, `${d.dataset} · ${fmt.int(d.rows)}`])], "");
  const form = h(
    "form",
    { class: "form-inline", id: "hits-form" },
    field(t("areas.dataset"), dataset),
    h("button", { type: "submit", class: "btn btn-primary", id: "hits-show" }, t("areas.show")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!dataset.value) {
      hits = null;
      clear(hitsBox);
      redraw();
      return;
    }
    clear(hitsBox).append(h("div", { class: "loading" }, t("areas.scanning")));
    try {
      hits = await api(`/v1/console/areas/hits?dataset=${encodeURIComponent(dataset.value)}`);
      clear(hitsBox).append(
        h(
          "p",
          { class: "muted", "data-testid": "hits-summary" },
          t("areas.hits_summary", { hits: fmt.int(hits.hits), rows: fmt.int(hits.rows), shown: fmt.int(hits.points.length) }),
          hits.truncated ? ` ${t("areas.truncated")}` : "",
        ),
      );
    } catch (error) {
      hits = null;
      clear(hitsBox).append(ctx.errorBox(error));
    }
    redraw();
    renderTable();
  });
  const tableBox = h("div");
  const renderTable = () => {
    const per = Object.fromEntries((hits?.areas || []).map((a) => [a.id, a.hits]));
    clear(tableBox).append(
      table(
        [
          { label: "common.id", render: (f) => h("code", {}, f.properties.id) },
          { label: "areas.name", render: (f) => f.properties.name },
          { label: "areas.kind", render: (f) => h("span", {}, h("i", { class: "swatch", style: `background:${KIND_COLORS[f.properties.kind] || "#0f766e"}` }), t(`area.${f.properties.kind}`)) },
          { label: "areas.buffer", num: true, render: (f) => `${fmt.int(f.properties.buffer_m)} m` },
          { label: "areas.admin", render: (f) => f.properties.admin_level || "—" },
          { label: "areas.hits", num: true, render: (f) => (hits ? (per[f.properties.id] ? badge("bad", fmt.int(per[f.properties.id])) : "0") : "—") },
        ],
        features,
        { testid: "areas", empty: "areas.none" },
      ),
    );
  };
  redraw();
  renderTable();
  root.append(
    h(
      "div",
      { class: "grid-2 wide-left" },
      panel(t("areas.map"), h("p", { class: "muted small" }, t("areas.map_hint")), mapBox, h("div", { class: "legend" }, Object.entries(KIND_COLORS).map(([k, c]) => h("span", {}, h("i", { style: `background:${c}` }), t(`area.${k}`))), h("span", {}, h("i", { class: "dot" }), t("areas.point")))),
      panel(t("areas.catalogue"), form, hitsBox, tableBox, h("p", { class: "muted small" }, t("areas.view_note"))),
    ),
  );
}
