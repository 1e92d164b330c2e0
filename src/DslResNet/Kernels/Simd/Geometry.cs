namespace DslResNet.Kernels.Simd;

/// <summary>A compile-time integer (register-block sizes).</summary>
internal interface IConst
{
    /// <summary>The value.</summary>
    static abstract int Value { get; }
}

/// <summary>1.</summary>
internal readonly struct C1 : IConst
{
    /// <inheritdoc />
    public static int Value => 1;
}

/// <summary>2.</summary>
internal readonly struct C2 : IConst
{
    /// <inheritdoc />
    public static int Value => 2;
}

/// <summary>3.</summary>
internal readonly struct C3 : IConst
{
    /// <inheritdoc />
    public static int Value => 3;
}

/// <summary>4.</summary>
internal readonly struct C4 : IConst
{
    /// <inheritdoc />
    public static int Value => 4;
}

/// <summary>5.</summary>
internal readonly struct C5 : IConst
{
    /// <inheritdoc />
    public static int Value => 5;
}

/// <summary>6.</summary>
internal readonly struct C6 : IConst
{
    /// <inheritdoc />
    public static int Value => 6;
}

/// <summary>7.</summary>
internal readonly struct C7 : IConst
{
    /// <inheritdoc />
    public static int Value => 7;
}

/// <summary>8.</summary>
internal readonly struct C8 : IConst
{
    /// <inheritdoc />
    public static int Value => 8;
}

/// <summary>9.</summary>
internal readonly struct C9 : IConst
{
    /// <inheritdoc />
    public static int Value => 9;
}

/// <summary>10.</summary>
internal readonly struct C10 : IConst
{
    /// <inheritdoc />
    public static int Value => 10;
}

/// <summary>11.</summary>
internal readonly struct C11 : IConst
{
    /// <inheritdoc />
    public static int Value => 11;
}

/// <summary>12.</summary>
internal readonly struct C12 : IConst
{
    /// <inheritdoc />
    public static int Value => 12;
}

/// <summary>13.</summary>
internal readonly struct C13 : IConst
{
    /// <inheritdoc />
    public static int Value => 13;
}

/// <summary>14.</summary>
internal readonly struct C14 : IConst
{
    /// <inheritdoc />
    public static int Value => 14;
}

/// <summary>15.</summary>
internal readonly struct C15 : IConst
{
    /// <inheritdoc />
    public static int Value => 15;
}

/// <summary>16.</summary>
internal readonly struct C16 : IConst
{
    /// <inheritdoc />
    public static int Value => 16;
}

/// <summary>17.</summary>
internal readonly struct C17 : IConst
{
    /// <inheritdoc />
    public static int Value => 17;
}

/// <summary>18.</summary>
internal readonly struct C18 : IConst
{
    /// <inheritdoc />
    public static int Value => 18;
}

/// <summary>19.</summary>
internal readonly struct C19 : IConst
{
    /// <inheritdoc />
    public static int Value => 19;
}

/// <summary>20.</summary>
internal readonly struct C20 : IConst
{
    /// <inheritdoc />
    public static int Value => 20;
}

/// <summary>21.</summary>
internal readonly struct C21 : IConst
{
    /// <inheritdoc />
    public static int Value => 21;
}

/// <summary>22.</summary>
internal readonly struct C22 : IConst
{
    /// <inheritdoc />
    public static int Value => 22;
}

/// <summary>23.</summary>
internal readonly struct C23 : IConst
{
    /// <inheritdoc />
    public static int Value => 23;
}

/// <summary>24.</summary>
internal readonly struct C24 : IConst
{
    /// <inheritdoc />
    public static int Value => 24;
}

/// <summary>25.</summary>
internal readonly struct C25 : IConst
{
    /// <inheritdoc />
    public static int Value => 25;
}

/// <summary>26.</summary>
internal readonly struct C26 : IConst
{
    /// <inheritdoc />
    public static int Value => 26;
}

/// <summary>27.</summary>
internal readonly struct C27 : IConst
{
    /// <inheritdoc />
    public static int Value => 27;
}

/// <summary>28.</summary>
internal readonly struct C28 : IConst
{
    /// <inheritdoc />
    public static int Value => 28;
}
