/**
 * The page's own script, run in the browser: it reads the embedded report
 * JSON and builds every table and chart from it. Text from the trace
 * (process names, addresses, container ids) only ever goes into the page
 * through textContent, never as markup, and is shown inert like the text
 * report (controls and bidi overrides escaped). When the charts have drawn,
 * it sets data-rendered on <html> and data-painted (pixels drawn, sampled) on
 * each canvas chart: what the Chromium test waits for and checks.
 *
 * Kept as a string: it is browser code, not part of the Node program (no
 * backticks or dollar-brace inside, so String.raw keeps it verbatim).
 */
import { SERVICE_PORT_RULE } from '../service-port.js';

export const CLIENT_JS = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('rstrace-report').textContent);
  var app = document.getElementById('app');
  var UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
  var PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f',
    '#bab0ac', '#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79'];

  function inert(s) {
    return String(s).replace(UNSAFE, function (c) {
      var n = c.charCodeAt(0);
      return n <= 0xff ? '\\x' + ('0' + n.toString(16)).slice(-2) : '\\u' + ('000' + n.toString(16)).slice(-4);
    });
  }
  function num(n) { return Number(n).toLocaleString('en-US'); }
  function pct(n, total) { return total ? (100 * n / total).toFixed(1) + '%' : '-'; }
  function colour(code) { return PALETTE[((code % PALETTE.length) + PALETTE.length) % PALETTE.length]; }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    var k;
    for (k in attrs || {}) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, String(attrs[k]));
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    });
    return e;
  }
  function figure(name, value, label) {
    return el('div', { 'class': 'figure' }, [
      el('span', { 'class': 'value', 'data-figure': name, 'data-value': value }, [num(value)]),
      el('span', { 'class': 'label' }, [label])]);
  }
  function card(title, children, wide) {
    return el('section', { 'class': wide ? 'card wide' : 'card' }, [el('h2', {}, [title])].concat(children));
  }
  function utc(iso) { return iso ? inert(iso.replace('T', ' ').replace(/(\.\d{3})\d*Z$/, '$1Z')) : '-'; }
  function span(ms) {
    if (ms < 1000) return ms + ' ms';
    if (ms < 60e3) return +(ms / 1000).toFixed(1) + ' s';
    if (ms < 3600e3) return +(ms / 60e3).toFixed(1) + ' min';
    if (ms < 86400e3) return +(ms / 3600e3).toFixed(1) + ' h';
    return +(ms / 86400e3).toFixed(1) + ' d';
  }

  /** A table of rows with a bar in the count column; cells are [text, attrs] or text. */
  function table(list, header, rows, peak) {
    var head = el('tr', {}, header.map(function (h) { return el('th', {}, [h]); }));
    var body = rows.map(function (r) {
      return el('tr', r.attrs, r.cells.map(function (c, i) {
        var cell = el('td', { 'class': r.cls[i] || '' }, [c]);
        if (i === r.barAt) {
          var w = peak ? Math.max(1, Math.round(100 * r.count / peak)) : 0;
          cell.insertBefore(el('span', { 'class': 'bar', style: 'width:' + w + '%;background:' + (r.colour || '#4e79a7') }), cell.firstChild);
        }
        return cell;
      }));
    });
    return el('table', { 'data-list': list }, [el('thead', {}, [head]), el('tbody', {}, body)]);
  }
  function topTable(list, header, items, keyOf, total) {
    if (!items.length) return el('p', { 'class': 'none' }, ['none']);
    var peak = Math.max.apply(null, items.map(function (x) { return x.count; }));
    return table(list, header.concat(['count', '%']), items.map(function (x) {
      var keys = keyOf(x);
      return {
        attrs: { 'data-key': inert(keys.join(' ')), 'data-count': x.count },
        cells: keys.map(inert).concat([num(x.count), pct(x.count, total)]),
        cls: keys.map(function (k) { return /^\d+$/.test(k) ? 'num' : 'text'; }).concat(['count', 'num']), barAt: keys.length, count: x.count,
      };
    }), peak);
  }
  function ofDistinct(shown, distinct) { return ' (' + num(shown) + ' of ' + num(distinct) + ')'; }

  var r = data;
  var files = r.files.length === 1 ? inert(r.files[0]) : num(r.files.length) + ' files';
  document.title = 'rstrace report: ' + files;
  app.appendChild(el('header', {}, [
    el('h1', {}, ['rstrace report']),
    el('p', { 'class': 'sub' }, [files + (r.firstTime ? ', ' + utc(r.firstTime) + ' to ' + utc(r.lastTime) : '')]),
    el('div', { 'class': 'figures' }, [
      figure('total', r.total, 'resets'),
      figure('unowned', r.unowned, 'by the kernel (no socket)'),
      figure('suspicious', r.suspicious.total, 'suspicious'),
      figure('lost', r.lost, 'lost in kernel'),
      figure('filtered', r.filtered, 'filtered while tracing'),
      figure('excluded', r.excluded, "left out by this report's filter")]),
  ]));
  var notes = [];
  if (r.lost > 0) notes.push('The kernel dropped records (ring buffer full): the counts are low by at least that many.');
  if (r.countersIncomplete) notes.push('A trace did not end normally (no trailer): its lost and filtered counts are not known.');
  if (r.truncated) notes.push('A trace file ends early: the counts cover the events before that point.');
  notes.forEach(function (n) { app.appendChild(el('p', { 'class': 'note' }, [n])); });

  var grid = el('div', { 'class': 'grid' }, []);
  app.appendChild(grid);

  // Over time: stacked bars by code on a UTC time axis
  var t = r.overTime;
  var timeCard = card('Resets over time, stacked by code', [], true);
  grid.appendChild(timeCard);
  // data-rendered = how many charts there are, once each has drawn at least once (redraws do not count)
  var charts = 0, drawn = {};
  function markDrawn(id) {
    drawn[id] = true;
    if (Object.keys(drawn).length === charts) document.documentElement.setAttribute('data-rendered', String(charts));
  }
  if (t.start && t.counts.length && typeof uPlot === 'function') {
    timeCard.appendChild(el('p', { 'class': 'sub' }, [
      span(t.bucketMs) + ' per bar, ' + num(t.counts.length) + ' bars, from ' + utc(t.start) + ' to ' + utc(t.end) + '; peak ' + num(t.peak) + ' per bar']));
    var holder = el('div', { 'class': 'chart', id: 'over-time' }, []);
    timeCard.appendChild(holder);
    var start = Date.parse(t.start);
    var xs = t.counts.map(function (_, i) { return start + i * t.bucketMs + t.bucketMs / 2; });
    // cumulative from the lowest code up; drawn highest first so each lower layer paints over it
    var layers = [], acc = xs.map(function () { return 0; });
    t.byCode.forEach(function (c) {
      acc = acc.map(function (a, i) { return a + c.counts[i]; });
      layers.push({ code: c.code, raw: c.counts, top: acc });
    });
    layers.reverse();
    var names = {};
    r.byCode.forEach(function (c) { names[c.code] = c.key; });
    var bars = uPlot.paths.bars({ size: [0.9, 64] });
    var series = [{ label: 'time (UTC)' }].concat(layers.map(function (l) {
      return {
        label: l.code + ' ' + inert(names[l.code] || 'unknown'), fill: colour(l.code), stroke: colour(l.code), width: 0, paths: bars, points: { show: false },
        value: function (u, v, si, idx) { return idx === null || idx === undefined ? '' : num(l.raw[idx]); },
      };
    }));
    charts++;
    var width = Math.max(480, holder.clientWidth || 1100);
    new uPlot({
      width: width, height: 300, ms: 1,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts), 'Etc/UTC'); },
      scales: { x: { time: true, range: [start, start + t.counts.length * t.bucketMs] } },
      axes: [{ space: 110, values: function (u, splits) { return splits.map(tickLabel(t.counts.length * t.bucketMs)); } },
        { label: 'resets per ' + span(t.bucketMs), size: 60 }],
      series: series,
      hooks: {
        draw: [function (u) {
          holder.setAttribute('data-painted', String(painted(u.ctx.canvas, layers.map(function (l) { return colour(l.code); }))));
          markDrawn('over-time');
        }],
      },
    }, [xs].concat(layers.map(function (l) { return l.top; })), holder);
  } else {
    timeCard.appendChild(el('p', { 'class': 'none' }, ['no resets with a time']));
  }

  /** Canvas pixels in the bars' own colours (axes and grid are grey), sampled every 3rd: zero unless bars were drawn. */
  function painted(canvas, colours) {
    var want = {};
    colours.forEach(function (c) { want[parseInt(c.slice(1), 16)] = true; });
    var px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    var n = 0, i;
    for (i = 0; i < px.length; i += 12) if (px[i + 3] === 255 && want[(px[i] << 16) | (px[i + 1] << 8) | px[i + 2]]) n++;
    return n;
  }
  /** UTC tick labels as precise as the span needs, 24-hour. */
  function tickLabel(rangeMs) {
    return function (v) {
      var iso = new Date(v).toISOString();
      if (rangeMs > 2 * 86400e3) return iso.slice(5, 10) + ' ' + iso.slice(11, 16);
      if (rangeMs > 600e3) return iso.slice(11, 16);
      if (rangeMs > 10e3) return iso.slice(11, 19);
      return iso.slice(11, 23);
    };
  }

  // By code, with the meaning of each
  var seen = r.byCode.filter(function (c) { return c.count > 0; });
  var unseen = r.byCode.filter(function (c) { return c.count === 0; });
  var codePeak = Math.max.apply(null, [0].concat(seen.map(function (c) { return c.count; })));
  grid.appendChild(card('By code', [
    seen.length ? table('byCode', ['code', 'key', 'meaning', 'count', '%'], seen.map(function (c) {
      return {
        attrs: { 'data-key': c.code, 'data-count': c.count },
        cells: [String(c.code), inert(c.key), inert(c.name), num(c.count), pct(c.count, r.total)],
        cls: ['num', 'text', 'text', 'count', 'num'], barAt: 3, count: c.count, colour: colour(c.code),
      };
    }), codePeak) : el('p', { 'class': 'none' }, ['no resets']),
    el('p', { 'class': 'sub' }, ['At zero: ' + (unseen.map(function (c) { return c.code + ' ' + inert(c.key); }).join(', ') || 'none')]),
  ], true));

  grid.appendChild(card('By kind', [topTable('byKind', ['kind'],
    Object.keys(r.byKind).map(function (k) { return { kind: k, count: r.byKind[k] }; }),
    function (x) { return [x.kind]; }, r.total)]));

  grid.appendChild(card('Top owners' + ofDistinct(r.topProcesses.length, r.distinct.processes), [
    topTable('topProcesses', ['pid', 'comm'], r.topProcesses,
      function (p) { return [p.pid === null ? '-' : String(p.pid), p.comm === null ? '-' : p.comm]; }, r.total),
    el('p', { 'class': 'sub' }, [
      el('span', { 'data-figure': 'unowned-again', 'data-value': r.unowned }, ['kernel (no socket): ' + num(r.unowned)]),
      ' (' + pct(r.unowned, r.total) + '): resets no process owns, not counted above']),
  ]));
  if (r.distinct.containers) {
    grid.appendChild(card('Top containers' + ofDistinct(r.topContainers.length, r.distinct.containers),
      [topTable('topContainers', ['container'], r.topContainers, function (c) { return [c.container]; }, r.total)]));
  }
  if (r.distinct.units) {
    grid.appendChild(card('Top units' + ofDistinct(r.topUnits.length, r.distinct.units),
      [topTable('topUnits', ['unit'], r.topUnits, function (u) { return [u.unit]; }, r.total)]));
  }
  grid.appendChild(card('Top remote peers' + ofDistinct(r.topPeers.length, r.distinct.peers),
    [topTable('topPeers', ['peer'], r.topPeers, function (p) { return [p.raddr]; }, r.total)]));
  grid.appendChild(card('Top service ports' + ofDistinct(r.topServicePorts.length, r.distinct.servicePorts), [
    el('p', { 'class': 'sub' }, [SERVICE_PORT_RULE]),
    topTable('topServicePorts', ['port'], r.topServicePorts, function (p) { return [String(p.port)]; }, r.total)]));
  grid.appendChild(card('Top local ports' + ofDistinct(r.topLocalPorts.length, r.distinct.localPorts),
    [topTable('topLocalPorts', ['lport'], r.topLocalPorts, function (p) { return [String(p.lport)]; }, r.total)]));
  grid.appendChild(card('Top remote ports' + ofDistinct(r.topRemotePorts.length, r.distinct.remotePorts),
    [topTable('topRemotePorts', ['rport'], r.topRemotePorts, function (p) { return [String(p.rport)]; }, r.total)]));

  // Ignored and suspicious
  var s = r.suspicious;
  grid.appendChild(card('Ignored and suspicious resets', [
    el('div', { 'class': 'figures small' }, [
      figure('suspicious-total', s.total, 'suspicious'),
      figure('ignored', s.ignored, 'ignored by the kernel'),
      figure('withSignals', s.withSignals, 'with signals of a stale, spoofed or injected RST')]),
    s.total ? topTable('suspiciousBySignal', ['signal'], s.bySignal, function (g) { return [g.signal]; }, s.total) : null,
    s.total ? topTable('suspiciousByPeer', ['peer'], s.byPeer, function (p) { return [p.raddr]; }, s.total) : null,
    s.total ? null : el('p', { 'class': 'none' }, ['no ignored RST, no reset with signals']),
  ], true));

  // Lost and filtered: what the trace could not or did not count
  var kernelRows = Array.isArray(r.kernel) ? r.kernel : [];
  grid.appendChild(card('Lost and filtered', [
    el('div', { 'class': 'figures small' }, [
      figure('lost-again', r.lost, 'records the kernel could not deliver (ring buffer full)'),
      figure('filtered-again', r.filtered, "dropped by the trace's own filters"),
      figure('excluded-again', r.excluded, "left out by this report's filter")]),
    kernelRows.length ? el('p', { 'class': 'sub' }, ['Completeness: the RSTs the kernel counted (TcpOutRsts) against what rstrace saw, per namespace']) : null,
    kernelRows.length ? table('kernel', ['namespace', 'inode', 'TcpOutRsts', 'hooked', 'seen sent', 'not delivered', 'status'], kernelRows.map(function (k) {
      function maybe(n) { return n === null || n === undefined ? '-' : num(n); }
      return {
        attrs: { 'data-key': k.netns, 'data-count': k.seenSent },
        cells: [inert(k.name), String(k.netns), maybe(k.outRsts), maybe(k.hooked), num(k.seenSent), num(k.notDelivered),
          inert(k.status) + (k.note ? ': ' + inert(k.note) : '')],
        cls: ['text', 'num', 'num', 'num', 'num', 'num', 'text'], barAt: -1, count: 0,
      };
    }), 0) : null,
  ], true));

  if (!charts) document.documentElement.setAttribute('data-rendered', '0');
})();
`;

/** The client script, with the text report's service-port rule (so the two cannot drift). */
export function clientScript(): string {
  return `var SERVICE_PORT_RULE = ${JSON.stringify(SERVICE_PORT_RULE)};\n${CLIENT_JS}`;
}
