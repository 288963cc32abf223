// Sortable tables (tablesort, vendored in assets/vendor/tablesort). Material's instant
// navigation swaps pages without a reload, so initialise on every document$ emission,
// as Material's documentation recommends; fall back to DOMContentLoaded without it.
(function () {
  function init() {
    // Material's search overlay is a role="dialog" without a name (axe: serious).
    var search = document.querySelector(".md-search[role=dialog]");
    if (search && !search.hasAttribute("aria-label")) search.setAttribute("aria-label", "搜索");
    document.querySelectorAll("article table:not([class])")
      .forEach(function (table) {
        if (table.dataset.psSortable || !table.tHead) return;
        table.dataset.psSortable = "1";
        new Tablesort(table);
      });
  }
  if (typeof document$ !== "undefined") {
    document$.subscribe(init);
  } else {
    document.addEventListener("DOMContentLoaded", init);
  }
})();
