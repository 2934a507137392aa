"""The browser edge shared by every service's pages: sessions, access, templates, the shell."""
