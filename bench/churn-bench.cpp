// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The long viewer churn (issue 12): the churn of tests/integration/churn.h,
// by default 1000 cycles, printed as a markdown table. Run it with
// bench/churn.sh, which sets up the environment.
//
//   churn-bench [--cycles N] [--settle SECONDS] [--memory-settle SECONDS]
//               [--malloc-info FILE] [--rest-every N] [--no-vanished]
//               [--producer-env NAME=VALUE]...
//
// --malloc-info FILE: the producer's malloc_info after the final malloc_trim
// (per arena: mapped, free and used bytes), for finding where RSS stays.
// --rest-every N: rest after every N cycles as at the end (vanished viewers
// reaped, threads and fds back, --memory-settle seconds) and print the
// settled RSS, to see whether what stays grows with the cycles or levels off.
// --producer-env NAME=VALUE (repeatable): set in the producer's environment
// only, e.g. MALLOC_ARENA_MAX=1, to compare allocator settings with the
// same benchmark.
//
// Kinds of churn viewer take turns: clean, interrupted, killed and vanished
// (SIGSTOPped for 25 s, as if its network went, then SIGKILLed; see
// churn.h); --no-vanished leaves the last kind out.
//
// Exits 1 when a churn viewer failed, the long-lived viewer fell under
// 24 fps over three seconds (ChurnResult::fps_held), the producer's threads
// or fds did not come back, or its RSS grew by 10 MB or more (sampled
// --memory-settle seconds, 35 by default, after threads and fds came back:
// rtcstream sweeps GLib's slice allocator 32 s after the last session
// closed); the table is printed all the same.
#include "churn.h"

#include <gst/gst.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace rtcstream::test;

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  // The harness reports hung children with gtest's ADD_FAILURE.
  ::testing::InitGoogleTest (&argc, argv);
  ChurnOptions options;
  options.cycles = 1000;
  options.trim_after = true;
  options.vanished = true;
  options.memory_settle_ms = 35000;
  for (int i = 1; i < argc; i++) {
    if (!strcmp (argv[i], "--cycles") && i + 1 < argc)
      options.cycles = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--settle") && i + 1 < argc)
      options.settle_ms = atoi (argv[++i]) * 1000;
    else if (!strcmp (argv[i], "--memory-settle") && i + 1 < argc)
      options.memory_settle_ms = atoi (argv[++i]) * 1000;
    else if (!strcmp (argv[i], "--malloc-info") && i + 1 < argc)
      options.malloc_info_path = argv[++i];
    else if (!strcmp (argv[i], "--producer-env") && i + 1 < argc && strchr (argv[i + 1], '='))
      options.producer_env.push_back (argv[++i]);
    else if (!strcmp (argv[i], "--rest-every") && i + 1 < argc)
      options.rest_every = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--no-vanished"))
      options.vanished = false;
    else {
      fprintf (stderr, "usage: %s [--cycles N] [--settle SECONDS] [--memory-settle SECONDS] [--malloc-info FILE] [--rest-every N] [--no-vanished] [--producer-env NAME=VALUE]...\n", argv[0]);
      return 2;
    }
  }
  if (options.cycles < 1) {
    fprintf (stderr, "--cycles must be at least 1\n");
    return 2;
  }
  options.progress = [] (const std::string &line) { fprintf (stderr, "%s\n", line.c_str ()); };
  ChurnResult r = run_churn (options);
  if (!r.started) {
    fprintf (stderr, "churn did not start: %s\n", r.error.c_str ());
    return 1;
  }
  printf ("%s", r.table ().c_str ());
  for (const std::string &setting : options.producer_env)
    printf ("Producer environment: %s\n", setting.c_str ());
  std::vector<std::string> failed;
  if (!r.error.empty ())
    failed.push_back (r.error);
  if (!r.fps_held ())
    failed.push_back ("the long-lived viewer fell under 24 fps over 3 s; one-second windows: " +
        r.fps_list ());
  if (!r.threads_returned (options))
    failed.push_back ("the producer's threads did not come back");
  if (!r.fds_returned (options))
    failed.push_back ("the producer's fds did not come back");
  if (r.rss_growth_kb () >= 10 * 1024)
    failed.push_back ("the producer's RSS grew by 10 MB or more");
  if (::testing::UnitTest::GetInstance ()->ad_hoc_test_result ().Failed ())
    failed.push_back ("a child process hung (see above)");
  for (const std::string &f : failed)
    printf ("\nFAILED: %s\n", f.c_str ());
  if (failed.empty ())
    printf ("\nPassed: every bound held.\n");
  return failed.empty () ? 0 : 1;
}
