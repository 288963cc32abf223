/* Material for MkDocs 9.8.2, partials/javascripts/outdated.html (MIT licence), moved from
   an inline <script> into a file so that the site needs no inline script (CSP). The base
   URL the original had written in is the site's root: three levels above this file. */
var el=document.querySelector("[data-md-component=outdated]"),base=new URL("../../../",document.currentScript.src),outdated=__md_get("__outdated",sessionStorage,base);!0===outdated&&el&&(el.hidden=!1)
