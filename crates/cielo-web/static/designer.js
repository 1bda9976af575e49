// The poster designer: place suggestions and a live preview drawn by the
// shop's preview endpoint. Without this script the form still works: the
// typed place is looked up when the poster is added to the cart.
'use strict';
(() => {
  const form = document.querySelector('form.sm-form');
  if (!form) return;
  const $ = id => document.getElementById(id);
  const place = $('sm-place'), placeId = $('sm-place-id'), list = $('sm-suggest'), where = $('sm-where');
  const img = $('sm-preview'), status = $('sm-status'), tz = $('sm-tz'), variant = $('variant');
  const words = where.dataset;
  let places = [], active = -1, searchTimer = 0, previewTimer = 0, searchSeq = 0;
  let inFlight = false, again = false, lastInput = 0, objectUrl = null;
  // Measured by the browser test: time from the last change to the new image.
  window.cieloPreviewTimes = [];

  const say = text => { status.textContent = text; };
  const clearPreview = text => {
    if (objectUrl) { URL.revokeObjectURL(objectUrl); objectUrl = null; }
    img.removeAttribute('src'); img.hidden = true; img.dataset.state = 'empty'; say(text);
  };
  const optionQuery = () => {
    const q = new URLSearchParams();
    const seen = new Set();
    for (const el of form.elements) {
      if (!el.name || seen.has(el.name) && el.type !== 'checkbox') continue;
      let m = /^opt([bn]?)_(.+)$/.exec(el.name);
      if (!m || m[2] === 'place_query') continue;
      const [, kind, key] = m;
      if (kind === 'b') { if (el.type === 'checkbox') q.set(key, el.checked ? 'true' : 'false'); continue; }
      seen.add(el.name);
      if (el.value.trim() !== '') q.set(key, el.value.trim());
    }
    const size = variant.selectedOptions[0] && variant.selectedOptions[0].dataset.size;
    if (size) q.set('size', size.toLowerCase());
    q.set('px', '700');
    return q;
  };

  // One render at a time: changes while one is drawn ask for one more after it.
  async function render() {
    if (!placeId.value) return;
    if (inFlight) { again = true; return; }
    inFlight = true; again = false;
    const started = lastInput;
    img.classList.add('loading'); say(words.wait);
    try {
      const r = await fetch('/api/store/starmap/preview?' + optionQuery());
      if (r.ok) {
        const blob = await r.blob();
        if (objectUrl) URL.revokeObjectURL(objectUrl);
        objectUrl = URL.createObjectURL(blob);
        img.src = objectUrl; img.hidden = false;
        await img.decode().catch(() => {});
        img.dataset.state = 'ready';
        img.dataset.renders = String((+img.dataset.renders || 0) + 1);
        if (!again && started) window.cieloPreviewTimes.push(performance.now() - started);
        say('');
      } else {
        // Said in the page's words, not the API's: which field, and how.
        const p = await r.json().catch(() => ({}));
        const said = new Set((p.errors || []).map(e => {
          const at = e.pointer || '', meant = /did you mean (\S+?)\?/.exec(e.detail || '');
          if (/time|fold/.test(at)) return meant ? words.errGap.replace('{time}', meant[1]) : words.errTime;
          if (/date/.test(at)) return words.errDate;
          // Characters the poster's fonts cannot print: named, on their field.
          const glyph = /no glyph for ([^;]+)/.exec(e.detail || ''), field = /(title|message)$/.exec(at);
          if (glyph && field) {
            const chars = glyph[1].split(', ').map(c => c.split(' (U+')[0].trim()).join(' ');
            return words[field[1] === 'title' ? 'errTitleGlyph' : 'errMessageGlyph'].replace('{chars}', chars);
          }
          return words.errOther;
        }));
        clearPreview([...said].join(' ') || words.errOther);
      }
    } catch (e) {
      say(String(e));
    } finally {
      img.classList.remove('loading');
      inFlight = false;
      if (again) render();
    }
  }
  // The fold picker (which of two instants a repeated local time means) is
  // shown only when the chosen time happens twice in the place's zone.
  const foldField = $('sm-fold') && $('sm-fold').closest('.field');
  const offsetAt = (ms, zone) => {
    const p = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit',
      day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(ms));
    const g = t => +p.find(x => x.type === t).value;
    return Date.UTC(g('year'), g('month') - 1, g('day'), g('hour'), g('minute'), g('second')) - ms;
  };
  const repeated = () => {
    const zone = tz.dataset.zone, naive = Date.parse(`${$('sm-date').value}T${$('sm-time').value}:00Z`);
    if (!zone || isNaN(naive)) return false;
    try {
      const seen = new Set();
      for (const o of [offsetAt(naive - 432e5, zone), offsetAt(naive + 432e5, zone)]) {
        if (offsetAt(naive - o, zone) === o) seen.add(o);
      }
      return seen.size > 1;
    } catch (_) { return false; }
  };
  const showFold = () => {
    if (!foldField) return;
    const on = repeated() || foldField.classList.contains('has-error');
    foldField.hidden = !on;
    if (!on) $('sm-fold').selectedIndex = 0;
  };
  const schedule = ms => { showFold(); lastInput = performance.now(); clearTimeout(previewTimer); previewTimer = setTimeout(render, ms); };

  function show(open) {
    list.hidden = !open; place.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (!open) { active = -1; place.removeAttribute('aria-activedescendant'); }
  }
  function choose(i) {
    const p = places[i]; if (!p) return;
    placeId.value = String(p.id);
    place.value = p.label || p.name;
    where.textContent = `${p.lat.toFixed(3)}°, ${p.lon.toFixed(3)}° · ${words.tzLabel}: ${p.tz}`;
    tz.textContent = `(${p.tz})`; tz.dataset.zone = p.tz;
    show(false);
    schedule(0);
  }
  function highlight(i) {
    const items = list.querySelectorAll('li');
    items.forEach((li, j) => li.setAttribute('aria-selected', j === i ? 'true' : 'false'));
    active = i;
    if (items[i]) { place.setAttribute('aria-activedescendant', items[i].id); items[i].scrollIntoView({ block: 'nearest' }); }
  }
  async function search() {
    const q = place.value.trim(), seq = ++searchSeq;
    if (q.length < 2) { show(false); return; }
    const r = await fetch('/api/store/starmap/places?' + new URLSearchParams({ q, limit: 8 }));
    if (seq !== searchSeq) return; // an older answer: the buyer kept typing
    places = r.ok ? (await r.json()).places : [];
    list.replaceChildren(...places.map((p, i) => {
      const li = document.createElement('li');
      li.id = 'sm-opt-' + i; li.setAttribute('role', 'option'); li.dataset.i = i;
      li.textContent = p.label || `${p.name}, ${p.country}`;
      return li;
    }));
    if (!places.length) {
      show(false);
      where.textContent = words.unknown;
      clearPreview(words.unknown);
      return;
    }
    show(true);
  }
  place.addEventListener('input', () => {
    // A new name: the old city's sky must not stay on screen.
    if (placeId.value) { placeId.value = ''; tz.textContent = ''; tz.dataset.zone = ''; clearPreview(words.choose); }
    where.textContent = words.choose;
    clearTimeout(searchTimer); searchTimer = setTimeout(search, 150);
  });
  place.addEventListener('keydown', e => {
    if (list.hidden) return;
    const n = places.length;
    if (e.key === 'ArrowDown') { e.preventDefault(); highlight((active + 1) % n); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); highlight((active - 1 + n) % n); }
    else if (e.key === 'Enter') { e.preventDefault(); choose(active < 0 ? 0 : active); }
    else if (e.key === 'Escape') show(false);
  });
  list.addEventListener('mousedown', e => { const li = e.target.closest('li'); if (li) { e.preventDefault(); choose(+li.dataset.i); } });
  document.addEventListener('click', e => { if (!form.contains(e.target)) show(false); });
  form.addEventListener('input', e => {
    if (e.target === place) return;
    schedule(e.target.type === 'text' || e.target.tagName === 'TEXTAREA' ? 150 : 0);
  });
  form.addEventListener('change', e => { if (e.target !== place && e.target.type !== 'text' && e.target.tagName !== 'TEXTAREA') schedule(0); });
  form.addEventListener('submit', e => {
    if (!placeId.value && place.value.trim() && !list.hidden && places.length) { e.preventDefault(); choose(Math.max(active, 0)); }
  });
  // Until a city is chosen the product's own picture stands in; a form sent
  // back with an error keeps its place and sky (drawn by the server).
  showFold();
  if (!img.dataset.state) img.dataset.state = 'placeholder';
  if (placeId.value && img.dataset.state !== 'ready' && !form.querySelector('[aria-invalid]')) schedule(0);
})();
