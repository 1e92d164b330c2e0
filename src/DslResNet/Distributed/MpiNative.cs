using System;
using System.Runtime.InteropServices;

namespace DslResNet.Distributed;

/// <summary>
/// The few MPI calls data-parallel training needs, bound to Open MPI's <c>libmpi.so.40</c> (Debian's <c>openmpi-bin</c> /
/// <c>libopenmpi-dev</c> 4.1). Open MPI's handles (<c>MPI_COMM_WORLD</c>, <c>MPI_DOUBLE</c>, <c>MPI_SUM</c> ...) are the
/// addresses of exported globals, looked up by name; MPICH's integer handles are not supported.
/// </summary>
internal static unsafe partial class MpiNative
{
    internal const string Library = "libmpi.so.40";

    /// <summary>MPI_THREAD_FUNNELED: only the thread that initialised MPI calls it (the training thread).</summary>
    internal const int ThreadFunneled = 1;

    /// <summary>MPI_IN_PLACE in Open MPI.</summary>
    internal static readonly IntPtr InPlace = 1;

    [LibraryImport(Library, EntryPoint = "MPI_Initialized")]
    internal static partial int Initialized(out int flag);

    [LibraryImport(Library, EntryPoint = "MPI_Finalized")]
    internal static partial int Finalized(out int flag);

    [LibraryImport(Library, EntryPoint = "MPI_Init_thread")]
    internal static partial int InitThread(IntPtr argc, IntPtr argv, int required, out int provided);

    [LibraryImport(Library, EntryPoint = "MPI_Finalize")]
    internal static partial int Finalize();

    [LibraryImport(Library, EntryPoint = "MPI_Abort")]
    internal static partial int Abort(IntPtr comm, int errorCode);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_rank")]
    internal static partial int CommRank(IntPtr comm, out int rank);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_size")]
    internal static partial int CommSize(IntPtr comm, out int size);

    [LibraryImport(Library, EntryPoint = "MPI_Iallreduce")]
    internal static partial int Iallreduce(IntPtr send, void* receive, int count, IntPtr type, IntPtr op, IntPtr comm, out IntPtr request);

    [LibraryImport(Library, EntryPoint = "MPI_Ibcast")]
    internal static partial int Ibcast(void* buffer, int count, IntPtr type, int root, IntPtr comm, out IntPtr request);

    [LibraryImport(Library, EntryPoint = "MPI_Ibarrier")]
    internal static partial int Ibarrier(IntPtr comm, out IntPtr request);

    [LibraryImport(Library, EntryPoint = "MPI_Test")]
    internal static partial int Test(ref IntPtr request, out int flag, IntPtr status);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int SetEnv(string name, string value, int overwrite);

    /// <summary>Open MPI's predefined handles, looked up once the library is loaded.</summary>
    internal sealed class Handles
    {
        private Handles(IntPtr library)
        {
            CommWorld = NativeLibrary.GetExport(library, "ompi_mpi_comm_world");
            Double = NativeLibrary.GetExport(library, "ompi_mpi_double");
            Float = NativeLibrary.GetExport(library, "ompi_mpi_float");
            Int64 = NativeLibrary.GetExport(library, "ompi_mpi_int64_t");
            Sum = NativeLibrary.GetExport(library, "ompi_mpi_op_sum");
            Min = NativeLibrary.GetExport(library, "ompi_mpi_op_min");
            Max = NativeLibrary.GetExport(library, "ompi_mpi_op_max");
        }

        public IntPtr CommWorld { get; }

        public IntPtr Double { get; }

        public IntPtr Float { get; }

        public IntPtr Int64 { get; }

        public IntPtr Sum { get; }

        public IntPtr Min { get; }

        public IntPtr Max { get; }

        /// <summary>Loads Open MPI and finds its handles.</summary>
        /// <exception cref="DistributedException">The library is not installed, or is not Open MPI.</exception>
        public static Handles Load()
        {
            if (!NativeLibrary.TryLoad(Library, typeof(MpiNative).Assembly, null, out IntPtr library))
            {
                throw new DistributedException(
                    $"distributed training needs Open MPI's {Library}, which could not be loaded; install it with 'apt-get install openmpi-bin libopenmpi-dev' (Debian) and start the job with mpirun.");
            }

            try
            {
                return new Handles(library);
            }
            catch (EntryPointNotFoundException e)
            {
                throw new DistributedException($"{Library} is not Open MPI (a predefined handle is missing: {e.Message}); DslResNet's binding supports Open MPI 4 only.", e);
            }
        }
    }
}
