/* Material for MkDocs 9.8.2, partials/javascripts/announce.html (MIT licence), moved
   from an inline <script> into a file so that the site needs no inline script (CSP). */
var el=document.querySelector("[data-md-component=announce]");if(el){var content=el.querySelector(".md-typeset");__md_hash(content.innerHTML)===__md_get("__announce")&&(el.hidden=!0)}
