// The form service's only script (served from 'self'; the pages work without it).
// - After a refused submit the error summary takes the focus, so that a keyboard or
//   screen-reader user starts at the list of problems (autofocus does the same where the
//   browser honours it on a non-control).
// - An error link jumps to its field's wrapper rather than to the bare input, so the
//   question and its message are on screen, then puts the focus in the input.
(function () {
  "use strict";
  var summary = document.querySelector(".error-summary");
  if (summary && document.activeElement !== summary) {
    summary.focus();
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".error-summary a[href^='#']") : null;
    if (!link) return;
    var field = document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (!field) return;
    // The question's own wrapper (it has the scroll margin), not a radio group's fieldset:
    // a fieldset's legend straddles its top edge and would end a fraction above the screen.
    var wrapper = field.closest(".field") || field.closest("fieldset") || field;
    event.preventDefault();
    wrapper.scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
  });
})();
