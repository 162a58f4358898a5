// SPDX-License-Identifier: LGPL-2.1-or-later
//
// main () of the GoogleTest programs that use GStreamer: initialise it (which
// also takes GStreamer's command-line options) before the tests run.
#include <gst/gst.h>
#include <gtest/gtest.h>

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  ::testing::InitGoogleTest (&argc, argv);
  return RUN_ALL_TESTS ();
}
