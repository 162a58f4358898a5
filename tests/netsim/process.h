// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A child process of a test, optionally inside a network namespace, talked to
// line by line over its stdin and stdout. Its stderr is the test's.
//
// Lifetime: the destructor stops it (SIGTERM, then SIGKILL) and reaps it. If
// the test process dies first, the kernel kills the child
// (PR_SET_PDEATHSIG), so no process outlives a crashed test.
//
// Threads: spawn from a thread that lives as long as the child (the kernel
// sends the death signal when the *thread* that forked exits); the main test
// thread is right. A reader thread per process collects stdout lines under
// lock_; every public method may be called from any thread.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace netsim {

// What netsim throws when the simulated network cannot be set up or changed:
// the message names the command that failed and what it said.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class Process {
public:
  // Starts argv[0] (looked up in PATH) with the given argv. netns_path, if
  // not empty, is a namespace file (/run/netns/NAME) the child joins first.
  // Throws netsim::Error when it cannot be started.
  Process (const std::vector<std::string> &argv, const std::string &netns_path = "");
  ~Process ();
  Process (const Process &) = delete;
  Process &operator= (const Process &) = delete;

  pid_t pid () const { return pid_; }
  const std::string &name () const { return name_; }

  // True while the process has not exited.
  bool running ();
  // Sends one line to its stdin (a newline is added). False if it is gone.
  bool send (const std::string &line);
  // Closes its stdin.
  void close_stdin ();

  // The first stdout line for which pred is true and that no wait_line
  // returned before (each line is returned once), waiting at most
  // timeout_ms; nothing when the time ran out or the process closed its
  // stdout.
  std::optional<std::string> wait_line (const std::function<bool (const std::string &)> &pred,
      int timeout_ms);
  // Same, for a line starting with prefix.
  std::optional<std::string> wait_prefix (const std::string &prefix, int timeout_ms);
  // Every stdout line so far.
  std::vector<std::string> lines () const;

  // SIGTERM, then SIGKILL after timeout_ms; reaps it. Returns the wait
  // status (as waitpid's), or -1 if it was stopped before.
  int stop (int timeout_ms = 3000);

private:
  void read_loop (int fd);

  std::string name_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  int status_ = -1;
  bool reaped_ = false;
  std::thread reader_;

  mutable std::mutex lock_;  // guards the fields below
  std::condition_variable changed_;
  std::vector<std::string> lines_;
  std::vector<bool> taken_;  // per line: returned by wait_line
  bool eof_ = false;
};

// Runs argv to completion (optionally inside netns_path), feeding it input
// on stdin. Returns its exit code (-1 if it could not run or was killed) and
// puts its stdout and stderr into *output when given.
int run_command (const std::vector<std::string> &argv, const std::string &netns_path = "",
    std::string *output = nullptr, const std::string &input = "");

// CPU time (user + system, every thread) that process pid used so far, in
// seconds, from /proc; NAN when it cannot be read.
double cpu_seconds (pid_t pid);

}  // namespace netsim
