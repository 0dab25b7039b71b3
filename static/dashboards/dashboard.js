// A live dashboard page: tiles with numbers and sparklines, the sales ticker,
// the connection state (PROTOCOL.md, 'Dashboards').
//
// The page applies the `snapshot`, then each `update` whose seq is the next
// one; on a seq gap it asks for a new snapshot. Each tile samples its value
// once a second into a five-minute sparkline, kept in sessionStorage so that
// a reload keeps it.

import { RealtimeSocket, stateBadge } from '../realtime/socket.js';

const root = document.getElementById('dashboard');
if (root) start(root);

function start(root) {
  const slug = root.dataset.slug;
  const ticker = document.getElementById('sales-ticker');
  const HISTORY_MS = 5 * 60 * 1000; // the sparklines show the last five minutes
  const MIN_SPAN_MS = 60 * 1000;
  const SAMPLE_MS = 1000;
  const TICKER_MAX = 10;
  const storeKey = `dashboards:${slug}:history`;

  const tiles = new Map();
  for (const el of root.querySelectorAll('.tile')) {
    tiles.set(el.dataset.metric, {
      unit: el.dataset.unit,
      valueEl: el.querySelector('.tile-value'),
      path: el.querySelector('.sparkline path'),
      history: [],
    });
  }

  let values = {};
  let seq = null; // null: waiting for a snapshot
  let live = false;

  // --- formatting and drawing -------------------------------------------------

  function format(value, unit) {
    if (value === null || value === undefined) return '–';
    const number = Number(value);
    if (unit === '$') {
      return '$' + number.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    if (unit === '%') return number.toFixed(1) + ' %';
    if (unit === 'ms') return number.toFixed(1) + ' ms';
    return number.toLocaleString('en-US');
  }

  // The x axis spans the samples the page holds: from one minute (a fresh page)
  // up to the whole five-minute window.
  function draw(tile, now) {
    const first = tile.history.length ? tile.history[0][0] : now;
    const span = Math.min(HISTORY_MS, Math.max(MIN_SPAN_MS, now - first));
    const start = now - span;
    const points = tile.history.filter(([t, v]) => t >= start && v !== null);
    if (!points.length) {
      tile.path.setAttribute('d', '');
      return;
    }
    let min = Math.min(...points.map(([, v]) => v));
    let max = Math.max(...points.map(([, v]) => v));
    if (max === min) {
      max += 1;
      min -= 1;
    }
    let d = '';
    let gap = true;
    for (const [t, v] of tile.history) {
      if (t < start) continue;
      if (v === null) {
        gap = true;
        continue;
      }
      const x = ((t - start) / span) * 300;
      const y = 38 - ((v - min) / (max - min)) * 36;
      d += `${gap ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`;
      gap = false;
    }
    tile.path.setAttribute('d', d);
  }

  function show(name) {
    const tile = tiles.get(name);
    if (!tile) return;
    const text = format(values[name], tile.unit);
    if (tile.valueEl.textContent !== text) {
      tile.valueEl.textContent = text;
      tile.valueEl.classList.remove('changed');
      void tile.valueEl.offsetWidth; // restart the highlight animation
      tile.valueEl.classList.add('changed');
    }
  }

  // One point per tile per second while live (a gap while disconnected).
  function sample() {
    const now = Date.now();
    for (const [name, tile] of tiles) {
      const value = live && values[name] !== null && values[name] !== undefined ? Number(values[name]) : null;
      tile.history.push([now, value]);
      while (tile.history.length && tile.history[0][0] < now - HISTORY_MS) tile.history.shift();
      draw(tile, now);
    }
    saveHistory();
  }

  // The sparklines survive a reload of the page (same tab).
  function saveHistory() {
    const data = {};
    for (const [name, tile] of tiles) data[name] = tile.history;
    try {
      sessionStorage.setItem(storeKey, JSON.stringify(data));
    } catch (e) {
      // Storage full or disabled: the sparklines start afresh on reload.
    }
  }

  function loadHistory() {
    let data = {};
    try {
      data = JSON.parse(sessionStorage.getItem(storeKey) || '{}');
    } catch (e) {
      data = {};
    }
    const since = Date.now() - HISTORY_MS;
    for (const [name, tile] of tiles) {
      tile.history = (data[name] || []).filter((point) => Array.isArray(point) && point[0] >= since);
    }
  }

  // --- sales ticker -------------------------------------------------------------

  function saleItem(sale) {
    const li = document.createElement('li');
    li.dataset.id = sale.id;
    const when = new Date(sale.created).toLocaleTimeString();
    const item = document.createElement('span');
    item.className = 'sale-item';
    item.textContent = sale.item || 'Order #' + sale.id;
    const amount = document.createElement('span');
    amount.className = 'sale-amount';
    amount.textContent = format(sale.amount, '$');
    const time = document.createElement('time');
    time.textContent = when;
    li.append(item, amount, time);
    return li;
  }

  function addSales(sales, fresh) {
    if (!ticker) return;
    for (const sale of sales) {
      if (ticker.querySelector(`li[data-id='${sale.id}']`)) continue;
      const li = saleItem(sale);
      if (fresh) li.classList.add('fresh');
      ticker.prepend(li);
    }
    while (ticker.children.length > TICKER_MAX) ticker.lastElementChild.remove();
  }

  // --- the socket -------------------------------------------------------------------

  function applySnapshot(frame) {
    seq = frame.seq;
    values = Object.assign({}, frame.metrics);
    for (const name of tiles.keys()) show(name);
    if (ticker && frame.sales) {
      ticker.replaceChildren();
      addSales(frame.sales, false);
    }
  }

  function applyUpdate(frame) {
    if (seq === null || frame.seq <= seq) return; // before the snapshot, or already in it
    if (frame.seq !== seq + 1) {
      // Missed an update: start again from a snapshot.
      seq = null;
      socket.request({ action: 'snapshot' }).then(applySnapshot, () => {});
      return;
    }
    seq = frame.seq;
    Object.assign(values, frame.metrics);
    for (const name of Object.keys(frame.metrics)) show(name);
    if (frame.sales) addSales(frame.sales, true);
  }

  const badge = stateBadge(document.getElementById('conn-state'));
  const socket = new RealtimeSocket(`/ws/dashboards/${encodeURIComponent(slug)}/`, {
    onFrame(frame) {
      if (frame.type === 'snapshot') applySnapshot(frame);
      else if (frame.type === 'update') applyUpdate(frame);
    },
    onState(state, info) {
      badge(state, info);
      root.dataset.state = state;
      live = state === 'open';
      if (!live) seq = null;
    },
  });

  // --- like and share buttons ---------------------------------------------------------

  function csrfToken() {
    const input = document.querySelector('input[name=csrfmiddlewaretoken]');
    return input ? input.value : '';
  }

  for (const button of document.querySelectorAll('[data-event]')) {
    button.addEventListener('click', () => {
      fetch('/api/events/', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken() },
        body: JSON.stringify({ kind: button.dataset.event }),
        credentials: 'same-origin',
      });
    });
  }

  loadHistory();
  setInterval(sample, SAMPLE_MS);
}
