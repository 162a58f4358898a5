// SPDX-License-Identifier: LGPL-2.1-or-later
#include "process.h"

#include <glib.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstring>

namespace netsim {

namespace {

// Writes all of data to a socket; false when the reader is gone (no SIGPIPE).
bool
send_nosignal (int fd, const std::string &data)
{
  size_t done = 0;
  while (done < data.size ()) {
    ssize_t n = ::send (fd, data.data () + done, data.size () - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += (size_t) n;
  }
  return true;
}

// A child's stdin: a socket pair rather than a pipe, so that writing to a
// child that died fails instead of raising SIGPIPE in the test.
bool
stdin_pair (int fds[2])
{
  return socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0;
}

// Forks and execs argv with stdin/stdout/stderr on the given fds (-1 keeps
// the parent's), inside the namespace file netns_path when not empty. Only
// async-signal-safe calls between fork and exec: the test is multithreaded.
pid_t
spawn (const std::vector<std::string> &argv, const std::string &netns_path, int in_fd,
    int out_fd, int err_fd)
{
  if (argv.empty ())
    throw Error ("netsim: empty command");
  g_autofree char *path = g_find_program_in_path (argv[0].c_str ());
  if (!path)
    throw Error ("netsim: " + argv[0] + " is not installed (not found in PATH)");
  int ns_fd = -1;
  if (!netns_path.empty () && (ns_fd = open (netns_path.c_str (), O_RDONLY | O_CLOEXEC)) < 0)
    throw Error ("netsim: cannot open " + netns_path + ": " + strerror (errno));
  std::vector<char *> args;
  for (const std::string &a : argv)
    args.push_back (const_cast<char *> (a.c_str ()));
  args.push_back (nullptr);
  pid_t parent = getpid ();

  pid_t pid = fork ();
  if (pid == 0) {
    // The child dies with the test, even when the test crashes.
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
      _exit (127);
    if (ns_fd >= 0 && setns (ns_fd, CLONE_NEWNET) < 0)
      _exit (126);
    if (in_fd >= 0)
      dup2 (in_fd, STDIN_FILENO);
    if (out_fd >= 0)
      dup2 (out_fd, STDOUT_FILENO);
    if (err_fd >= 0)
      dup2 (err_fd, STDERR_FILENO);
    // Only 0, 1 and 2 are passed on (GStreamer's and GLib's fds may lack
    // O_CLOEXEC).
    close_range (3, ~0U, CLOSE_RANGE_CLOEXEC);
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, nullptr);
    execv (path, args.data ());
    _exit (127);
  }
  int saved = errno;
  if (ns_fd >= 0)
    close (ns_fd);
  if (pid < 0)
    throw Error ("netsim: fork failed: " + std::string (strerror (saved)));
  return pid;
}

}  // namespace

Process::Process (const std::vector<std::string> &argv, const std::string &netns_path)
{
  name_ = argv.empty () ? "" : argv[0];
  int in[2], out[2];
  if (!stdin_pair (in))
    throw Error ("netsim: socketpair failed");
  if (pipe2 (out, O_CLOEXEC) < 0) {
    close (in[0]);
    close (in[1]);
    throw Error ("netsim: pipe failed");
  }
  try {
    pid_ = spawn (argv, netns_path, in[0], out[1], -1);
  } catch (...) {
    for (int fd : {in[0], in[1], out[0], out[1]})
      close (fd);
    throw;
  }
  close (in[0]);
  close (out[1]);
  stdin_ = in[1];
  reader_ = std::thread (&Process::read_loop, this, out[0]);
}

Process::~Process ()
{
  stop ();
  if (reader_.joinable ())
    reader_.join ();
}

// Reader thread: splits stdout into lines until EOF.
void
Process::read_loop (int fd)
{
  std::string partial;
  char buf[4096];
  while (true) {
    ssize_t n = read (fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    partial.append (buf, (size_t) n);
    size_t nl;
    std::lock_guard<std::mutex> lk (lock_);
    while ((nl = partial.find ('\n')) != std::string::npos) {
      lines_.push_back (partial.substr (0, nl));
      taken_.push_back (false);
      partial.erase (0, nl + 1);
    }
    changed_.notify_all ();
  }
  close (fd);
  std::lock_guard<std::mutex> lk (lock_);
  if (!partial.empty ()) {
    lines_.push_back (partial);
    taken_.push_back (false);
  }
  eof_ = true;
  changed_.notify_all ();
}

bool
Process::running ()
{
  if (reaped_)
    return false;
  int status;
  pid_t r = waitpid (pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = status;
    return false;
  }
  return r == 0;
}

bool
Process::send (const std::string &line)
{
  if (stdin_ < 0)
    return false;
  std::string data = line + "\n";
  // A child that died closed its end: no SIGPIPE for the test, just false.
  return send_nosignal (stdin_, data);
}

void
Process::close_stdin ()
{
  if (stdin_ >= 0)
    close (stdin_);
  stdin_ = -1;
}

std::optional<std::string>
Process::wait_line (const std::function<bool (const std::string &)> &pred, int timeout_ms)
{
  auto deadline = std::chrono::steady_clock::now () + std::chrono::milliseconds (timeout_ms);
  std::unique_lock<std::mutex> lk (lock_);
  while (true) {
    for (size_t i = 0; i < lines_.size (); i++) {
      if (!taken_[i] && pred (lines_[i])) {
        taken_[i] = true;
        return lines_[i];
      }
    }
    if (eof_)
      return std::nullopt;
    if (changed_.wait_until (lk, deadline) == std::cv_status::timeout) {
      // One last look at what came with the timeout.
      for (size_t i = 0; i < lines_.size (); i++)
        if (!taken_[i] && pred (lines_[i])) {
          taken_[i] = true;
          return lines_[i];
        }
      return std::nullopt;
    }
  }
}

std::optional<std::string>
Process::wait_prefix (const std::string &prefix, int timeout_ms)
{
  return wait_line ([&prefix] (const std::string &l) { return l.rfind (prefix, 0) == 0; },
      timeout_ms);
}

std::vector<std::string>
Process::lines () const
{
  std::lock_guard<std::mutex> lk (lock_);
  return lines_;
}

int
Process::stop (int timeout_ms)
{
  close_stdin ();
  if (reaped_ || pid_ <= 0)
    return reaped_ ? status_ : -1;
  if (running ()) {
    kill (pid_, SIGTERM);
    for (int waited = 0; waited < timeout_ms && running (); waited += 10)
      g_usleep (10000);
    if (running ()) {
      kill (pid_, SIGKILL);
      int status;
      if (waitpid (pid_, &status, 0) == pid_)
        status_ = status;
      reaped_ = true;
    }
  }
  return status_;
}

int
run_command (const std::vector<std::string> &argv, const std::string &netns_path,
    std::string *output, const std::string &input)
{
  int in[2], out[2];
  if (!stdin_pair (in))
    return -1;
  if (pipe2 (out, O_CLOEXEC) < 0) {
    close (in[0]);
    close (in[1]);
    return -1;
  }
  pid_t pid;
  try {
    pid = spawn (argv, netns_path, in[0], out[1], out[1]);
  } catch (const Error &e) {
    for (int fd : {in[0], in[1], out[0], out[1]})
      close (fd);
    if (output)
      *output = e.what ();
    return -1;
  }
  close (in[0]);
  close (out[1]);
  send_nosignal (in[1], input);  // small (nft scripts): fits the socket buffer
  close (in[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read (out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      text.append (buf, (size_t) n);
  close (out[0]);
  int status = 0;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output)
    *output = text;
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

double
cpu_seconds (pid_t pid)
{
  gchar *text = nullptr;
  std::string path = "/proc/" + std::to_string (pid) + "/stat";
  if (!g_file_get_contents (path.c_str (), &text, nullptr, nullptr))
    return NAN;
  std::string all (text);
  g_free (text);
  // After "pid (comm) ": state is field 3; utime and stime are 14 and 15.
  size_t at = all.rfind (')');
  if (at == std::string::npos)
    return NAN;
  std::vector<std::string> fields;
  std::string field;
  for (size_t i = at + 2; i <= all.size (); i++) {
    if (i == all.size () || all[i] == ' ') {
      fields.push_back (field);
      field.clear ();
    } else {
      field += all[i];
    }
  }
  if (fields.size () < 13)
    return NAN;
  return (std::stod (fields[11]) + std::stod (fields[12])) / (double) sysconf (_SC_CLK_TCK);
}

}  // namespace netsim
