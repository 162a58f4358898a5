// SPDX-License-Identifier: LGPL-2.1-or-later
//
// For tests: an X client that covers the whole screen with one window and
// prints, one line each, the input the X server gives it, so a test sees
// what really reached the display:
//   ready WIDTH HEIGHT
//   press BUTTON X Y        release BUTTON X Y
//   key KEYSYM-NAME         (key presses)
// It runs until killed. The display is $DISPLAY's.
#include <X11/Xlib.h>
#include <X11/Xutil.h>

#include <cstdio>

int
main ()
{
  Display *d = XOpenDisplay (nullptr);
  if (!d) {
    std::fprintf (stderr, "x-input-watch: cannot open the display\n");
    return 1;
  }
  int screen = DefaultScreen (d);
  int w = DisplayWidth (d, screen), h = DisplayHeight (d, screen);
  XSetWindowAttributes attrs {};
  attrs.override_redirect = True;  // no window manager: placed as asked
  attrs.background_pixel = 0x336699;
  attrs.event_mask = ButtonPressMask | ButtonReleaseMask | KeyPressMask | ExposureMask;
  Window win = XCreateWindow (d, RootWindow (d, screen), 0, 0, w, h, 0, CopyFromParent,
      InputOutput, CopyFromParent, CWOverrideRedirect | CWBackPixel | CWEventMask, &attrs);
  XMapRaised (d, win);
  XSetInputFocus (d, win, RevertToParent, CurrentTime);
  XSync (d, False);
  std::printf ("ready %d %d\n", w, h);
  std::fflush (stdout);
  for (;;) {
    XEvent e;
    XNextEvent (d, &e);
    if (e.type == ButtonPress || e.type == ButtonRelease) {
      std::printf ("%s %u %d %d\n", e.type == ButtonPress ? "press" : "release",
          e.xbutton.button, e.xbutton.x_root, e.xbutton.y_root);
    } else if (e.type == KeyPress) {
      KeySym sym = XLookupKeysym (&e.xkey, 0);
      const char *name = XKeysymToString (sym);
      std::printf ("key %s\n", name ? name : "?");
    } else {
      continue;
    }
    std::fflush (stdout);
  }
}
