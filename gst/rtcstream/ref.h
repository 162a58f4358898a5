// SPDX-License-Identifier: LGPL-2.1-or-later
//
// One RAII holder for GObject-derived refs, used for every GObject (and
// GstObject) the C++ code keeps beyond a scope. Locals use g_autoptr.
// Ownership is explicit at construction: Ref<T>::adopt takes a reference the
// caller owns (a "transfer full" return), Ref<T>::take_ref adds one.
#pragma once

#include <glib-object.h>
#include <utility>

namespace rtcstream {

template <typename T>
class Ref {
public:
  Ref () = default;
  ~Ref () { reset (); }

  static Ref adopt (T *ptr) { Ref r; r.ptr_ = ptr; return r; }
  static Ref take_ref (T *ptr) {
    Ref r;
    r.ptr_ = ptr ? static_cast<T *> (g_object_ref (ptr)) : nullptr;
    return r;
  }

  Ref (const Ref &o) : ptr_ (o.ptr_ ? static_cast<T *> (g_object_ref (o.ptr_)) : nullptr) {}
  Ref (Ref &&o) noexcept : ptr_ (std::exchange (o.ptr_, nullptr)) {}
  Ref &operator= (Ref o) noexcept { std::swap (ptr_, o.ptr_); return *this; }

  void reset () {
    if (T *p = std::exchange (ptr_, nullptr))
      g_object_unref (p);
  }
  // Hands the reference out (transfer full).
  T *release () { return std::exchange (ptr_, nullptr); }

  T *get () const { return ptr_; }
  T *operator-> () const { return ptr_; }
  explicit operator bool () const { return ptr_ != nullptr; }

private:
  T *ptr_ = nullptr;
};

}  // namespace rtcstream
