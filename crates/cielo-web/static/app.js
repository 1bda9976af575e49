// Cielo pages: small enhancements on top of pages that work without script.
'use strict';
(() => {
  // The order page follows the order: it re-reads itself every few seconds
  // and swaps in the new state when something changed (no manual reload).
  const live = document.getElementById('order-live');
  if (live && live.dataset.live) {
    let current = live;
    const tick = async () => {
      try {
        const r = await fetch(location.href, { cache: 'no-store', credentials: 'same-origin' });
        if (r.ok) {
          const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
          const next = doc.getElementById('order-live');
          if (next && next.dataset.version !== current.dataset.version) {
            current.replaceWith(next);
            current = next;
          }
          if (!next || !next.dataset.live) return;
        }
      } catch (_) { /* offline for a moment: try again */ }
      setTimeout(tick, 1500);
    };
    setTimeout(tick, 1500);
  }
  // A form sent back with errors: move focus to the summary so screen
  // readers announce it and the first wrong field is one Tab away.
  const errors = document.getElementById('form-errors');
  if (errors) errors.focus();
})();
