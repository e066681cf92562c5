// The sparkbridge console: refreshes the page's live part in place, and sends the requests
// of its action buttons (data-method, data-url) to the admin API. The API refuses such a
// request from another origin; the browser's Origin and Sec-Fetch-Site headers say where
// it came from, and fetch sends the page's Basic credentials as for any same-origin request.
'use strict';

(function () {
  const every = Number(document.body.dataset.refresh || 0) * 1000;
  let refreshing = false;

  function flash(text, bad) {
    const el = document.getElementById('flash');
    el.textContent = text;
    el.className = bad ? 'bad' : 'ok';
    el.hidden = false;
    clearTimeout(flash.timer);
    flash.timer = setTimeout(() => { el.hidden = true; }, bad ? 15000 : 5000);
  }

  // refresh fetches this page again and swaps in its live part and the bridge's state.
  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const resp = await fetch(location.href, { headers: { Accept: 'text/html' }, cache: 'no-store' });
      if (!resp.ok) {
        flash('Refresh failed: HTTP ' + resp.status, true);
        return;
      }
      const doc = new DOMParser().parseFromString(await resp.text(), 'text/html');
      for (const id of ['live', 'state']) {
        const fresh = doc.getElementById(id);
        const old = document.getElementById(id);
        if (fresh && old) old.replaceWith(document.importNode(fresh, true));
      }
    } catch (e) {
      flash('Refresh failed: ' + e.message, true);
    } finally {
      refreshing = false;
    }
  }

  document.addEventListener('click', async (ev) => {
    const button = ev.target.closest('button[data-url]');
    if (!button || button.disabled) return;
    if (!window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      const resp = await fetch(button.dataset.url, { method: button.dataset.method, headers: { Accept: 'application/json' } });
      const body = await resp.json().catch(() => ({}));
      if (resp.ok) {
        flash(button.dataset.done + (body.engine_error ? ' (the engine answered: ' + body.engine_error + ')' : ''), false);
      } else {
        flash((body.error || 'HTTP ' + resp.status), true);
      }
    } catch (e) {
      flash('Request failed: ' + e.message, true);
    }
    await refresh();
  });

  if (every > 0) {
    setInterval(() => { if (!document.hidden) refresh(); }, every);
  }
})();
