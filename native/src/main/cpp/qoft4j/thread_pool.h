// A small persistent thread pool for the CPU kernels. Workers sleep on a condition variable between
// jobs, so they do not compete with libtorch's own threads while a matmul runs. One job at a time:
// a caller that finds the pool busy (another Java thread is in a kernel) runs its job on its own thread.
// Plain pthreads rather than std::thread / std::condition_variable: the library then needs nothing
// newer from libstdc++ than GCC 5's ABI (see glibc_compat.h for the same concern with glibc).
#pragma once
#include <pthread.h>
#include <unistd.h>
#include <functional>
#include <vector>
#include "glibc_compat.h"

namespace qoft4j {

class ThreadPool {
public:
    ThreadPool() {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads_ = n > 0 ? (int) n : 1;
    }

    int threads() {
        Lock call(&call_mutex_);
        return nthreads_;
    }

    void set_threads(int n) {
        Lock call(&call_mutex_);
        if (n < 1) n = 1;
        if (n == nthreads_) return;
        stop();
        nthreads_ = n;
    }

    // Runs fn(part, parts) for part in [0, parts), parts = min(threads, max_parts); returns when all are done.
    void run(int max_parts, const std::function<void(int, int)>& fn) {
        if (max_parts <= 1 || pthread_mutex_trylock(&call_mutex_) != 0) {
            fn(0, 1);
            return;
        }
        int parts = nthreads_ < max_parts ? nthreads_ : max_parts;
        if (parts <= 1 || !start()) {
            pthread_mutex_unlock(&call_mutex_);
            fn(0, 1);
            return;
        }
        {
            Lock lk(&m_);
            job_ = &fn;
            parts_ = parts;
            pending_ = parts - 1;
            ++generation_;
        }
        pthread_cond_broadcast(&cv_);
        fn(0, parts);
        {
            Lock lk(&m_);
            while (pending_ != 0) pthread_cond_wait(&done_cv_, &m_);
            job_ = nullptr;
        }
        pthread_mutex_unlock(&call_mutex_);
    }

private:
    struct Lock {
        pthread_mutex_t* m;
        explicit Lock(pthread_mutex_t* mutex) : m(mutex) { pthread_mutex_lock(m); }
        ~Lock() { pthread_mutex_unlock(m); }
    };

    struct Worker {
        ThreadPool* pool;
        int index;
        unsigned long seen;  // the generation before the worker's first job
        pthread_t thread;
    };

    bool start() {
        if (!workers_.empty()) return true;
        quit_ = false;
        workers_.resize(nthreads_ - 1);
        unsigned long current;
        {
            Lock lk(&m_);
            current = generation_;
        }
        for (int i = 0; i < nthreads_ - 1; i++) {
            workers_[i].pool = this;
            workers_[i].index = i + 1;
            workers_[i].seen = current;
            if (pthread_create(&workers_[i].thread, nullptr, &ThreadPool::entry, &workers_[i]) != 0) {
                workers_.resize(i);
                stop();
                return false;
            }
        }
        return true;
    }

    void stop() {
        if (workers_.empty()) return;
        {
            Lock lk(&m_);
            quit_ = true;
        }
        pthread_cond_broadcast(&cv_);
        for (auto& w : workers_) pthread_join(w.thread, nullptr);
        workers_.clear();
    }

    static void* entry(void* arg) {
        Worker* w = (Worker*) arg;
        w->pool->loop(w->index, w->seen);
        return nullptr;
    }

    void loop(int index, unsigned long seen) {
        for (;;) {
            const std::function<void(int, int)>* job;
            int parts;
            {
                Lock lk(&m_);
                while (!quit_ && generation_ == seen) pthread_cond_wait(&cv_, &m_);
                if (quit_) return;
                seen = generation_;
                job = job_;
                parts = parts_;
            }
            if (index < parts) {
                (*job)(index, parts);
                Lock lk(&m_);
                if (--pending_ == 0) pthread_cond_signal(&done_cv_);
            }
        }
    }

    pthread_mutex_t call_mutex_ = PTHREAD_MUTEX_INITIALIZER;
    int nthreads_ = 1;
    std::vector<Worker> workers_;
    pthread_mutex_t m_ = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv_ = PTHREAD_COND_INITIALIZER, done_cv_ = PTHREAD_COND_INITIALIZER;
    const std::function<void(int, int)>* job_ = nullptr;
    int parts_ = 0, pending_ = 0;
    unsigned long generation_ = 0;
    bool quit_ = false;
};

}  // namespace qoft4j
