// The page of `als serve`: plain JavaScript, no build step, no request to any other host.
// Every name from the model goes into the DOM as text (textContent, text nodes, attributes set
// one by one), never as HTML.
'use strict';

(() => {
  /** how many similar artists and recommendations to show, and suggestions while typing */
  const SIMILAR_COUNT = 15;
  const RECOMMEND_COUNT = 10;
  const SUGGEST_COUNT = 10;
  /** wait this long after the last keystroke before asking for suggestions */
  const SUGGEST_DELAY_MS = 80;

  const $ = (id) => document.getElementById(id);
  const number = new Intl.NumberFormat('en');
  const listeners = (count) => `${number.format(count)} listener${count === 1 ? '' : 's'}`;

  /** An element with attributes (null ones left out) and children (strings become text nodes). */
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'class') node.className = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  // ---- the API ------------------------------------------------------------------------------

  let apiKey = '';
  try {
    apiKey = sessionStorage.getItem('als-api-key') ?? '';
  } catch {
    // storage refused (private mode): the key lasts as long as the page
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(typeof body?.message === 'string' ? body.message : `the server answered ${status}`);
      this.status = status;
      this.suggestions = Array.isArray(body?.suggestions) ? body.suggestions.filter((s) => typeof s === 'string') : [];
    }
  }

  async function api(method, path, body) {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (apiKey !== '') headers['x-api-key'] = apiKey;
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, { message: 'the server cannot be reached' });
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      // a body that is not JSON: the status says enough
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // ---- state in the URL hash: #a=ARTIST&l=PLAYS:NAME&l=:NAME ---------------------------------

  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const list = params.getAll('l').map((value) => {
      const colon = value.indexOf(':');
      const plays = colon > 0 ? Number(value.slice(0, colon)) : NaN;
      // any number is kept, so that the server's 400 can say what is wrong with it
      return { name: value.slice(colon + 1), plays: Number.isFinite(plays) ? plays : null };
    });
    return { artist: params.get('a') || null, list: list.filter((entry) => entry.name !== '') };
  }

  function hashOf(state) {
    const params = new URLSearchParams();
    if (state.artist !== null) params.set('a', state.artist);
    for (const entry of state.list) params.append('l', `${entry.plays ?? ''}:${entry.name}`);
    const text = params.toString();
    return text === '' ? '' : `#${text}`;
  }

  /** The state now shown; apply() brings the page to the hash's. */
  let shown = { artist: null, list: [] };
  const namesKey = (list) => JSON.stringify(list.map((e) => e.name));
  const listKey = (list) => JSON.stringify(list);

  /** Moves to `next`: a new history entry (an artist picked) or the same one (the list edited). */
  function go(next, push, fromPlays = false) {
    const hash = hashOf(next);
    if (hash !== location.hash) {
      const url = hash === '' ? location.pathname + location.search : hash;
      if (push) history.pushState(null, '', url);
      else history.replaceState(null, '', url);
    }
    apply(fromPlays);
  }

  function apply(fromPlays = false) {
    const next = readHash();
    const before = shown;
    shown = next;
    if (next.artist !== before.artist) {
      if (next.artist !== null) $('query').value = next.artist;
      closeSuggestions();
      void showSimilar(next.artist);
    }
    if (namesKey(next.list) !== namesKey(before.list) || (!fromPlays && listKey(next.list) !== listKey(before.list))) renderList();
    else refreshAddButtons();
    if (listKey(next.list) !== listKey(before.list)) void showRecommendations();
  }

  const showArtist = (name) => go({ ...shown, artist: name }, true);
  const inList = (name) => shown.list.some((e) => e.name.toLowerCase() === name.toLowerCase());

  function addToList(name) {
    if (name === '' || inList(name)) return;
    go({ ...shown, list: [...shown.list, { name, plays: null }] }, false);
  }

  /** A link to an artist's neighbours; the click keeps the current list (the href may be older). */
  function artistLink(name) {
    const link = el('a', { href: hashOf({ artist: name, list: shown.list }), 'data-artist': name, class: 'artist' }, name);
    return link;
  }

  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a[data-artist]') : null;
    if (link === null || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    showArtist(link.getAttribute('data-artist'));
    $('similar-heading').focus();
  });

  function addButton(name) {
    const button = el('button', { type: 'button', class: 'add', 'data-add': name });
    setAddButton(button);
    button.addEventListener('click', () => {
      addToList(name);
      button.focus();
    });
    return button;
  }

  function setAddButton(button) {
    const name = button.getAttribute('data-add');
    const listed = inList(name);
    button.textContent = listed ? '✓' : '+';
    button.disabled = listed;
    button.setAttribute('aria-label', listed ? `${name} is in your list` : `Add ${name} to your list`);
    button.title = listed ? 'In your list' : 'Add to your list';
  }

  function refreshAddButtons() {
    for (const button of document.querySelectorAll('button[data-add]')) setAddButton(button);
  }

  // ---- errors -------------------------------------------------------------------------------

  /** Shows an API error in words, its suggestions as buttons; `pick` says what a suggestion does. */
  function showError(error, pick = showArtist) {
    const box = $('error');
    box.replaceChildren();
    if (error === null) return;
    if (!(error instanceof ApiError)) throw error;
    const what = error.status === 0 ? 'Network' : error.status === 404 ? 'Not found' : error.status === 400 ? 'Not accepted' : `Error ${error.status}`;
    box.append(el('p', {}, el('strong', {}, `${what}: `), error.message));
    if (error.suggestions.length > 0) {
      const list = el('ul', { class: 'suggested', 'aria-label': 'Did you mean' });
      for (const name of error.suggestions) {
        const button = el('button', { type: 'button', class: 'suggestion' }, name);
        button.addEventListener('click', () => {
          showError(null);
          pick(name);
        });
        list.append(el('li', {}, button));
      }
      box.append(el('p', {}, 'Did you mean:'), list);
    }
    if (error.status === 401) box.append(keyForm());
  }

  function keyForm() {
    const form = $('key-template').content.firstElementChild.cloneNode(true);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      apiKey = form.querySelector('input').value.trim();
      try {
        sessionStorage.setItem('als-api-key', apiKey);
      } catch {
        // kept in memory only
      }
      showError(null);
      start();
    });
    return form;
  }

  // ---- the model line -----------------------------------------------------------------------

  async function showModel() {
    const line = $('model');
    try {
      const model = await api('GET', '/api/model');
      line.textContent = `Model ${model.version} · ${number.format(model.users)} users · ${number.format(model.items)} items`;
    } catch (error) {
      line.textContent = 'Model: not available';
      showError(error);
    }
  }

  // ---- search with suggestions --------------------------------------------------------------

  const input = $('query');
  const listbox = $('suggestions');
  let suggestions = [];
  let active = -1;
  let suggestTimer = 0;
  let suggestAsked = 0;

  function closeSuggestions() {
    clearTimeout(suggestTimer);
    suggestAsked++;
    suggestions = [];
    active = -1;
    listbox.replaceChildren();
    listbox.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  }

  function renderSuggestions() {
    listbox.replaceChildren(
      ...suggestions.map((item, k) => {
        const option = el(
          'li',
          { id: `suggestion-${k}`, role: 'option', 'aria-selected': k === active ? 'true' : 'false', 'data-name': item.name },
          el('span', { class: 'name' }, item.name),
          typeof item.users === 'number' ? el('span', { class: 'users' }, listeners(item.users)) : null,
        );
        // mousedown, not click: the input keeps focus, and the pick happens before blur closes the list
        option.addEventListener('mousedown', (event) => {
          event.preventDefault();
          pick(item.name);
        });
        return option;
      }),
    );
    const open = suggestions.length > 0;
    listbox.hidden = !open;
    input.setAttribute('aria-expanded', String(open));
    if (active >= 0) {
      input.setAttribute('aria-activedescendant', `suggestion-${active}`);
      listbox.children[active].scrollIntoView({ block: 'nearest' });
    } else input.removeAttribute('aria-activedescendant');
  }

  async function suggest(prefix) {
    const asked = ++suggestAsked;
    try {
      const answer = await api('GET', `/api/items?prefix=${encodeURIComponent(prefix)}&n=${SUGGEST_COUNT}`);
      if (asked !== suggestAsked || input.value.trim() !== prefix) return;
      suggestions = answer.items;
      active = -1;
      renderSuggestions();
    } catch (error) {
      if (asked === suggestAsked) showError(error);
    }
  }

  function pick(name) {
    closeSuggestions();
    input.value = name;
    showError(null);
    showArtist(name);
  }

  input.addEventListener('input', () => {
    clearTimeout(suggestTimer);
    const prefix = input.value.trim();
    if (prefix === '') {
      closeSuggestions();
      return;
    }
    suggestTimer = setTimeout(() => void suggest(prefix), SUGGEST_DELAY_MS);
  });

  input.addEventListener('keydown', (event) => {
    const count = suggestions.length;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      if (count === 0) return;
      event.preventDefault();
      active = event.key === 'ArrowDown' ? (active + 1) % count : (active - 1 + count) % count;
      renderSuggestions();
    } else if (event.key === 'Enter' && active >= 0) {
      event.preventDefault();
      pick(suggestions[active].name);
    } else if (event.key === 'Escape' && count > 0) {
      event.preventDefault();
      closeSuggestions();
    }
  });

  input.addEventListener('blur', () => setTimeout(closeSuggestions, 0));

  $('search').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (name === '') return;
    closeSuggestions();
    showError(null);
    if (name === shown.artist) void showSimilar(name);
    else showArtist(name);
  });

  $('add-query').addEventListener('click', () => {
    const name = active >= 0 ? suggestions[active].name : input.value.trim();
    closeSuggestions();
    addToList(name);
  });

  // ---- scored lists (similar artists, recommendations) --------------------------------------

  /** One row: the artist (a link to its neighbours), a bar of its 0..1 score, the score, an add button. */
  function scoredRow(item) {
    const fill = el('span', { class: 'fill' });
    const score = Math.min(1, Math.max(0, Number(item.score) || 0));
    // CSSOM, not a style attribute: allowed under the page's Content-Security-Policy
    fill.style.width = `${(score * 100).toFixed(2)}%`;
    return el(
      'li',
      { 'data-name': item.name, 'data-score': String(item.score) },
      el('span', { class: 'who' }, artistLink(item.name), typeof item.users === 'number' ? el('span', { class: 'users' }, listeners(item.users)) : null),
      el('span', { class: 'bar', 'aria-hidden': 'true' }, fill),
      el('span', { class: 'score', title: `raw score ${item.raw}` }, score.toFixed(2)),
      addButton(item.name),
    );
  }

  let similarAsked = 0;

  async function showSimilar(artist) {
    const asked = ++similarAsked;
    const heading = $('similar-heading');
    const list = $('similar-list');
    const help = $('similar-help');
    if (artist === null) {
      heading.replaceChildren('Similar artists');
      help.textContent = 'Pick an artist to see the artists most like it.';
      list.replaceChildren();
      return;
    }
    heading.replaceChildren(`Artists like ${artist}`);
    help.textContent = 'Loading…';
    list.setAttribute('aria-busy', 'true');
    try {
      const answer = await api('GET', `/api/similar/${encodeURIComponent(artist)}?n=${SIMILAR_COUNT}`);
      if (asked !== similarAsked) return;
      heading.replaceChildren('Artists like ', artistLink(answer.item), ' ', addButton(answer.item));
      const left =
        typeof answer.leftOut === 'number' && answer.leftOut > 0 && typeof answer.minItemUsers === 'number'
          ? ` (${number.format(answer.leftOut)} with fewer than ${number.format(answer.minItemUsers)} listeners left out)`
          : '';
      help.textContent = `Score: cosine similarity scaled to 0–1${left}.`;
      list.replaceChildren(...answer.similar.map(scoredRow));
    } catch (error) {
      if (asked !== similarAsked) return;
      help.textContent = 'No answer; see the message above.';
      list.replaceChildren();
      showError(error);
    } finally {
      if (asked === similarAsked) list.removeAttribute('aria-busy');
    }
  }

  // ---- the listening list and its recommendations -------------------------------------------

  function renderList() {
    const list = $('list');
    list.replaceChildren(
      ...shown.list.map((entry, k) => {
        const id = `plays-${k}`;
        const plays = el('input', { id, type: 'number', min: '0', step: 'any', inputmode: 'decimal', placeholder: 'median', class: 'plays', value: entry.plays ?? '' });
        plays.addEventListener('change', () => {
          const text = plays.value.trim();
          const value = text === '' ? null : Number(text);
          // a value the server refuses (0, negative) is sent anyway: its 400 says what is wrong
          const next = shown.list.map((e, j) => (j === k ? { name: e.name, plays: value } : e));
          go({ ...shown, list: next }, false, true);
        });
        const remove = el('button', { type: 'button', class: 'remove', 'aria-label': `Remove ${entry.name} from your list` }, 'Remove');
        remove.addEventListener('click', () => {
          go({ ...shown, list: shown.list.filter((_, j) => j !== k) }, false);
          const buttons = $('list').querySelectorAll('button.remove');
          (buttons[Math.min(k, buttons.length - 1)] ?? input).focus();
        });
        return el(
          'li',
          { 'data-name': entry.name },
          el('span', { class: 'who' }, artistLink(entry.name)),
          el('label', { for: id, class: 'plays-label' }, 'Plays', el('span', { class: 'visually-hidden' }, ` of ${entry.name}`)),
          plays,
          remove,
        );
      }),
    );
    $('list-help').textContent =
      shown.list.length === 0 ? "Add artists with the + buttons; plays are optional (the model's median when empty)." : `${shown.list.length} artist${shown.list.length === 1 ? '' : 's'}; plays are optional (the model's median when empty).`;
    refreshAddButtons();
  }

  /** "because of A 45% · B 30% · 2 others 10%" */
  function why(explanation) {
    const line = el('p', { class: 'why' }, 'because of ');
    const percent = (share) => `${Math.round(share * 100)}%`;
    explanation.contributions.forEach((c, k) => {
      if (k > 0) line.append(' · ');
      line.append(el('span', { class: 'contributor', 'data-name': c.name, 'data-share': String(c.share) }, artistLink(c.name), ` ${percent(c.share)}`));
    });
    if (explanation.others && explanation.others.items > 0) {
      line.append(` · ${explanation.others.items} other${explanation.others.items === 1 ? '' : 's'} ${percent(explanation.others.share)}`);
    }
    return line;
  }

  let recsAsked = 0;

  async function showRecommendations() {
    const asked = ++recsAsked;
    const recs = $('recs');
    const help = $('recs-help');
    const notes = $('list-notes');
    if (shown.list.length === 0) {
      recs.replaceChildren();
      notes.replaceChildren();
      help.textContent = 'Recommendations appear once the list has an artist.';
      return;
    }
    help.textContent = 'Loading…';
    recs.setAttribute('aria-busy', 'true');
    const items = shown.list.map((e) => (e.plays === null ? { name: e.name } : { name: e.name, plays: e.plays }));
    try {
      const answer = await api('POST', '/api/recommend', { items, n: RECOMMEND_COUNT, explain: true });
      if (asked !== recsAsked) return;
      showUnknown(answer.unknown ?? []);
      help.textContent = 'Score: scaled to 0–1; the listed artists whose plays explain each score most, with their share of it.';
      recs.replaceChildren(
        ...answer.recommendations.map((item) => {
          const row = scoredRow(item);
          if (item.explanation) row.append(why(item.explanation));
          return row;
        }),
      );
    } catch (error) {
      if (asked !== recsAsked) return;
      recs.replaceChildren();
      notes.replaceChildren();
      help.textContent = 'No recommendations; see the message above.';
      showError(error);
    } finally {
      if (asked === recsAsked) recs.removeAttribute('aria-busy');
    }
  }

  /** Names of the list the model does not have, each with its close names (a click replaces it). */
  function showUnknown(unknown) {
    const notes = $('list-notes');
    notes.replaceChildren();
    for (const entry of unknown) {
      const line = el('span', { class: 'unknown' }, 'Not in the model: ', el('strong', {}, entry.name));
      const close = Array.isArray(entry.suggestions) ? entry.suggestions : [];
      if (close.length > 0) {
        line.append(' — did you mean ');
        close.forEach((name, k) => {
          if (k > 0) line.append(', ');
          const button = el('button', { type: 'button', class: 'suggestion', 'aria-label': `Replace ${entry.name} by ${name}` }, name);
          button.addEventListener('click', () => {
            const next = shown.list.map((e) => (e.name === entry.name ? { name, plays: e.plays } : e));
            go({ ...shown, list: next.filter((e, j) => next.findIndex((o) => o.name === e.name) === j) }, false);
          });
          line.append(button);
        });
        line.append('?');
      }
      notes.append(line);
    }
  }

  // ---- start --------------------------------------------------------------------------------

  /** The model line and the state in the hash, each on its own: one failing does not hide the other. */
  function start() {
    shown = { artist: null, list: [] };
    void showModel();
    apply();
  }

  window.addEventListener('popstate', () => apply());
  window.addEventListener('hashchange', () => apply());
  start();
})();
