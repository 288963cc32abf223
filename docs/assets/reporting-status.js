// The reporting-status page's filters (报送情况): by unit type and by state. A file served
// by the site itself, so that the page works under `script-src 'self'`; the filter form is
// hidden until this script shows it (without JavaScript every row stays visible).
(function () {
  function init() {
    var form = document.querySelector("form[data-ps-filters]");
    if (!form) return;
    var type = form.querySelector('[data-ps-filter="unit-type"]');
    var state = form.querySelector('[data-ps-filter="state"]');
    function apply() {
      var wantedType = type.value;
      var wantedState = state.value;
      document
        .querySelectorAll('table[data-ps-table="reporting-status"] tbody tr, table[data-ps-table="owing"] tbody tr')
        .forEach(function (row) {
          var typeOk = !wantedType || row.dataset.unitType === wantedType;
          var states = (row.dataset.states || "missing").split(" ");
          var stateOk = !wantedState || states.indexOf(wantedState) >= 0;
          row.hidden = !(typeOk && stateOk);
        });
    }
    form.hidden = false;
    form.addEventListener("change", apply);
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    apply();
  }
  if (typeof document$ !== "undefined") {
    document$.subscribe(init);
  } else {
    document.addEventListener("DOMContentLoaded", init);
  }
})();
