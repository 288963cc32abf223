/* Material for MkDocs 9.8.2, partials/javascripts/base.html (MIT licence), moved from an
   inline <script> into a file so that the site needs no inline script (CSP). The inline
   original wrote the page's relative base URL into the script; this file lives at
   <site>/assets/javascripts/partials/base.js, so the site's root is three levels above its
   own URL. `config.extra.scope`, when set, comes in the data-md-scope attribute. */
(function () {
  var script = document.currentScript;
  var scope = script.getAttribute("data-md-scope");
  __md_scope = scope ? new URL(scope, location) : new URL("../../../", script.src);
})();
__md_hash = e => [...e].reduce(((e, _) => (e << 5) - e + _.charCodeAt(0)), 0);
__md_get = (e, _ = localStorage, t = __md_scope) => JSON.parse(_.getItem(t.pathname + "." + e));
__md_set = (e, _, t = localStorage, a = __md_scope) => {
  try { t.setItem(a.pathname + "." + e, JSON.stringify(_)) } catch (e) {}
};
