/*
 * zonewright test pause process: the init process of a pod sandbox.
 * Sleeps until SIGTERM/SIGINT, reaps any child that gets re-parented to it.
 * Built static (gcc -static) so the image needs no libc.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested = 0;

static void on_stop(int signal_number) {
  (void)signal_number;
  stop_requested = 1;
}

static void on_child(int signal_number) {
  (void)signal_number;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("zonewright-pause 1");
    return 0;
  }
  struct sigaction stop_action;
  memset(&stop_action, 0, sizeof stop_action);
  stop_action.sa_handler = on_stop;
  sigaction(SIGTERM, &stop_action, NULL);
  sigaction(SIGINT, &stop_action, NULL);

  struct sigaction child_action;
  memset(&child_action, 0, sizeof child_action);
  child_action.sa_handler = on_child;
  child_action.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &child_action, NULL);

  while (!stop_requested) {
    pause();
  }
  return 0;
}
