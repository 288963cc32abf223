/* Material for MkDocs 9.8.2, partials/javascripts/content.html, the part it includes
   with the content.tabs.link feature (MIT licence), moved from an inline <script> into a
   file so that the site needs no inline script (CSP). */
var tabs=__md_get("__tabs");if(Array.isArray(tabs))e:for(var set of document.querySelectorAll(".tabbed-set")){var labels=set.querySelector(".tabbed-labels");for(var tab of tabs)for(var label of labels.getElementsByTagName("label"))if(label.innerText.trim()===tab){var input=document.getElementById(label.htmlFor);input.checked=!0;continue e}}
