/* Material for MkDocs 9.8.2, partials/javascripts/content.html (MIT licence), moved
   from an inline <script> into a file so that the site needs no inline script (CSP). */
var target=document.getElementById(location.hash.slice(1));target&&target.name&&(target.checked=target.name.startsWith("__tabbed_"))
